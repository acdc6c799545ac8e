"""The Plan view's layout: a form column and a results column that give way to each other on a
laptop with display scaling or a larger font.

At 1280x720 with a 125 % scale (1024x576 logical) the Plan held the window 1,096 px wide: its form
column was fixed at the width of its widest row (a date beside "first month a plan can reach", 426
px) and its results at 650 px (the orders table's fixed 400 px beside a chart). Now the form's
choices sit under their dates, the form scrolls sideways only where even that does not fit, the
orders table is as wide as its columns need (in the font in use: at 12 pt the fixed 400 px left
the chip 34 px), and the summary scrolls past a few lines, as the Forecast's does (at 12 pt it was
cut after six lines with no scroll bar).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import (
    QFormLayout, QGroupBox, QHBoxLayout, QHeaderView, QLabel, QScrollArea, QSplitter, QTableWidget, QTabWidget,
    QVBoxLayout, QWidget,
)

from gui import style
from gui.panels.chart_grid import ChartGrid
from gui.panels.forecast_charts import SUMMARY_LINES_SHOWN, SUMMARY_PADDING_PX, _FitScroll
from gui.panels.forecast_common import LinkLabel
from gui.panels.small_screen import FormColumn

PLAN_FORM_MIN_PX = 220     # the form column's narrowest: past this it scrolls sideways inside
CHIP_NAME_SAMPLE = "Ascend 910B2"   # the orders table keeps room for a chip name this long
CELL_PADDING_PX = 14       # a cell's text margins and grid line
PLAN_ROW_PX = 200          # a chart's row at least (more where its legend asks): both at 1280x720
PLAN_CHART_MIN_PX = 360    # charts narrower beside the orders: the orders become a tab


class SummaryLabel(LinkLabel):
    """The Plan's summary: new text asks its scroll area for the height the text needs."""

    def setText(self, text: str) -> None:  # type: ignore[override]
        super().setText(text)
        parent = self.parentWidget()
        while parent is not None and not isinstance(parent, QScrollArea):
            parent = parent.parentWidget()
        if parent is not None:
            parent.updateGeometry()


def summary_area(label: QLabel) -> QScrollArea:
    """`label` in a scroll area as tall as its text up to SUMMARY_LINES_SHOWN lines; the rest scrolls."""
    scroll = _FitScroll()
    scroll.setWidget(label)
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QScrollArea.Shape.NoFrame)
    scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)   # Tab goes to the summary's link, not its frame
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroll.setMaximumHeight(SUMMARY_LINES_SHOWN * label.fontMetrics().lineSpacing() + SUMMARY_PADDING_PX)
    return scroll


def _field_over_choice(field: QWidget, choice: QWidget) -> QVBoxLayout:
    """A date over its "set it for me" tick box: side by side they made the form 426 px wide."""
    column = QVBoxLayout()
    column.setSpacing(2)
    column.addWidget(field)
    column.addWidget(choice)
    return column


def form_column(panel) -> FormColumn:
    """The Plan's inputs (target, candidates, the note under them) in a column that scrolls."""
    box = QGroupBox("Target")
    form = QFormLayout(box)
    form.addRow("Confidence", panel.confidence)
    form.addRow("From", _field_over_choice(panel.from_edit, panel.auto_from))
    form.addRow("Until", _field_over_choice(panel.until_edit, panel.auto_until))
    form.addRow("Budget", panel.budget)
    form.addRow("Fitted on", panel.samples)
    form.addRow(panel._run_row)
    form.addRow(panel.progress_bar)
    form.addRow(panel.add_button)
    # a short title: the whole one set the column's narrowest width (a group box's title never wraps)
    cand_box = QGroupBox("Candidate purchases")
    cand_box.setToolTip("The chips the plan may buy; vendor risk (fulfilment, delays, export cut-offs) "
                        "comes from the scenario")
    QVBoxLayout(cand_box).addWidget(panel.cand_table)
    note = QLabel("The plan keeps the confidence on the 1st of each month from 'From' to 'Until' (in all but (1 − P) of "
                  "the trials); vendor risk comes from the scenario: vendors' fulfilment and delays and export "
                  "cut-offs apply to new orders as to existing ones.")
    note.setWordWrap(True)
    note.setStyleSheet(style.hint_style())   # the palette's muted text: a fixed #555 vanished on a dark window
    column = QWidget()
    v = QVBoxLayout(column)
    v.setContentsMargins(0, 0, 6, 0)
    v.addWidget(box)
    v.addWidget(cand_box)
    v.addWidget(note)
    v.addStretch(1)
    scroll = QScrollArea()
    scroll.setWidget(column)
    scroll.setWidgetResizable(True)
    # as wide as its fields where there is room; narrower on a small screen, where the splitter
    # gives the results their room and the form scrolls sideways
    scroll.setMinimumWidth(PLAN_FORM_MIN_PX)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
    scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    # first shown at its fields' width (the splitter's first sizes are its widgets' hints)
    return FormColumn(scroll)


class _FormFirst(QObject):
    """Gives a splitter's form column its fields' width when the splitter is first laid out, as far
    as the results' minimum leaves room (a splitter shares its first width by its widgets' hints,
    which left the form 314 px of its 396 at 1280x720). On every show and resize until the user
    moves the divider: done once, at the first, a larger font's form stayed cut off (394 of its
    557 px at 14 pt) beside 1,000 px of empty results once the window had its size (QA s38)."""

    def __init__(self, splitter: QSplitter):
        super().__init__(splitter)
        self.splitter = splitter
        splitter.installEventFilter(self)
        splitter.splitterMoved.connect(self._moved_by_user)   # (not emitted by setSizes)

    def _moved_by_user(self, *_args) -> None:
        self.splitter.removeEventFilter(self)

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt's name)
        if event.type() in (QEvent.Type.Show, QEvent.Type.Resize) and self.splitter.isVisible() and self.splitter.width() > 0:
            form, results = self.splitter.widget(0), self.splitter.widget(1)
            if form is None or results is None:
                return False
            room = self.splitter.width() - self.splitter.handleWidth()
            width = max(min(form.sizeHint().width(), room - results.minimumSizeHint().width()), form.minimumSizeHint().width())
            if self.splitter.sizes()[0] < width:   # (a divider the user left wider stays)
                self.splitter.setSizes([width, room - width])
        return False


def form_first(splitter: QSplitter) -> None:
    """See _FormFirst."""
    _FormFirst(splitter)


def results_page(panel) -> QWidget:
    """The summary over two tabs: the plan (orders beside the capacity and P(meet) charts) and the
    cost per token by chip (two charts over the table)."""
    orders_box = QWidget()
    orders = QVBoxLayout(orders_box)
    orders.setContentsMargins(0, 0, 0, 0)
    orders.addWidget(panel.orders_caption)
    orders.addWidget(panel.orders_table, 1)
    # The orders (as wide as their columns: fit_orders_width) beside the charts, one chart over the
    # other; where they are short of room a tab each (ChartGrid), the orders the first tab where the
    # charts beside them would be narrower than PLAN_CHART_MIN_PX. At 125 % (1024x576) the charts
    # were 244 px wide beside the orders and shared ~300 px of height: the capacity chart's plot
    # was 64 px tall under "Plan vs…".
    plan_page = panel.chart_grid = ChartGrid([("Capacity vs demand", [panel.capacity_chart]),
                                              ("P(meet demand)", [panel.prob_chart])], min_row_height=PLAN_ROW_PX,
                                             side=("Orders", orders_box), min_chart_px=PLAN_CHART_MIN_PX)
    cost_page = QWidget()
    cv = QVBoxLayout(cost_page)
    cv.setContentsMargins(0, 0, 0, 0)
    cost_charts = QHBoxLayout()
    cost_charts.addWidget(panel.served_cost_chart)
    cost_charts.addWidget(panel.training_cost_chart)
    cv.addLayout(cost_charts, 1)
    cv.addWidget(panel.econ_caption)
    cv.addWidget(panel.econ_table)
    panel.tabs = QTabWidget()
    panel.tabs.setDocumentMode(True)
    panel.tabs.addTab(plan_page, "Plan")
    panel.tabs.addTab(cost_page, "Cost per token by chip")
    page = QWidget()
    v = QVBoxLayout(page)
    v.setContentsMargins(0, 0, 0, 0)
    panel.summary_scroll = summary_area(panel.summary_label)
    v.addWidget(panel.summary_scroll)
    v.addWidget(panel.tabs, 1)
    return page


def fit_table_width(table: QTableWidget, name_column: int = 0) -> None:
    """`table` as narrow as its columns allow in the font in use, with room for a chip name as
    long as CHIP_NAME_SAMPLE in `name_column` (which stretches): no sideways scrolling, and no
    fixed width a larger font overruns (at 12 pt the orders table's fixed 400 px left its chips 34
    px; the candidates' names read "Asce…" once the form was no wider than its fields)."""
    fm = table.fontMetrics()
    header = table.horizontalHeader()
    names = [item.text() for r in range(table.rowCount())
             if (item := table.item(r, name_column)) is not None and table.columnSpan(r, name_column) == 1]
    need = max([fm.horizontalAdvance(CHIP_NAME_SAMPLE), *(fm.horizontalAdvance(n) for n in names)]) + CELL_PADDING_PX
    need = max(need, header.sectionSizeHint(name_column))
    for c in range(table.columnCount()):
        if c != name_column and not table.isColumnHidden(c):
            need += max(header.sectionSizeHint(c), table.sizeHintForColumn(c))
    bar = table.verticalScrollBar().sizeHint().width()   # rows past the table's height scroll
    table.setMinimumWidth(need + bar + 2 * table.frameWidth())


def fit_orders_width(table: QTableWidget) -> None:
    """The orders table (chips in its first column) as wide as its columns need and no wider: the
    charts beside it take the rest (shared out, the table kept blank space while the charts were
    squeezed to their narrowest at 125 %)."""
    fit_table_width(table, 0)
    table.setMaximumWidth(table.minimumWidth())


def fit_cost_columns(table: QTableWidget) -> None:
    """The cost table's columns as wide as their titles and figures, the last taking what is left,
    scrolled sideways where even that does not fit: six equal columns cut "USD per 1M served
    tokens" to "SD per 1M serve" and the chips to "H800 SXM5 …" at 12 pt."""
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setStretchLastSection(True)
    table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
