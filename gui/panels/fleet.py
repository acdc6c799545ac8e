"""The Fleet view: chip catalog, orders, deliveries, and the installed fleet over time.

Every edit goes through an undo command; the store validates it and a refusal shows in the
banner (and the status bar), never as a traceback. The chart and tables refresh whenever the
undo stack moves (push, undo, redo).
"""

from __future__ import annotations

import datetime as dt
import re

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut, QUndoStack
from PySide6.QtWidgets import (
    QComboBox, QDateEdit, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QPushButton, QSizePolicy, QSpinBox,
    QSplitter, QTabWidget, QVBoxLayout, QWidget,
)

from engine.fleet import INSTALL_LAG_DAYS, installed_timeline, promised_timeline, timeline_months, undated_chips
from engine.validate import vendor_mismatch
from engine.errors import UserError
from gui.commands import (
    AddDeliveryCommand, AddOrderCommand, DeleteDeliveryCommand, DeleteOrderCommand,
    NOT_GIVEN, EditChipCommand, EditDeliveryCommand, EditOrderCommand, field_label, follow_stack, follow_store_writes,
    in_table_words, push_command,
)
from gui.table_models import ChipTableModel, DeliveryTableModel, OrderTableModel, edit_text
from gui import style
from gui.widgets.banner import MessageBanner
from gui.widgets.plot_panel import PlotPanel, to_timestamps
from gui.widgets.tables import FilterableTable

TOTAL_SERIES = "All chips"
PROMISED_SERIES = "Promised by vendors, all types"   # (exports add the unit: "(chips)")


# the engine's limits as it words them: "(must be <= 100000000)", a float's "(must be <= 1e+08)"
_LIMIT_WORDS = re.compile(r"\(must be (<=|>=|<|>) ([-+]?[0-9][0-9.]*(?:e[-+]?[0-9]+)?)\)")


def grouped_limits(message: str) -> str:
    """`message` with its limits grouped as the table's figures are ("(must be <= 100,000,000)").
    Limits under 10,000 stay as written: a year's "(must be <= 2100)" is no count."""
    def grouped(match: re.Match) -> str:
        limit = float(match.group(2))
        if abs(limit) < 10_000 or limit != int(limit):
            return match.group(0)
        return f"(must be {match.group(1)} {int(limit):,})"

    return _LIMIT_WORDS.sub(grouped, message)


def names_row(message: str, kind: str, key) -> bool:
    """The store's refusal begins with the row it is about ("order 3: no such order", "chip
    'h20-96gb': not in the catalog"): the banner need not name it again."""
    return re.match(rf"{re.escape(kind)} '?{re.escape(str(key))}'?[: ]", message) is not None


def _qdate(day: dt.date) -> QDate:
    return QDate(day.year, day.month, day.day)


def _forget_typing(edit) -> None:
    """The text stays for the next row, its typing no longer undoable: it is in the step just added,
    and Ctrl+Z went first to the field (clearing "KbdCo") and only a second press took the order
    back (gui.widgets.undo_keys: a field keeps its keys while it has text to undo; QA s38)."""
    edit.setText(edit.text())   # (QLineEdit.setText clears the field's undo history)


class FleetPanel(QWidget):
    status_message = Signal(str)
    PAGES = {"orders": 0, "chips": 1}   # the sub-tabs, as store commands name them (fleet_page)

    def __init__(self, store, undo_stack: QUndoStack | None = None, parent=None):
        super().__init__(parent)
        self.store = store
        self.undo_stack = undo_stack or QUndoStack(self)
        self._chip_names: dict[str, str] = {}
        self._chip_vendors: dict[str, str] = {}
        editable = self._editable = not getattr(store, "read_only", False)

        self.banner = MessageBanner()
        self._refused_cell: tuple | None = None   # (kind, key, field) of the edit the banner refused

        # chart
        self._lag_provider = None
        self._drawn_lag_days = INSTALL_LAG_DAYS
        self.chart = PlotPanel(_chart_title(INSTALL_LAG_DAYS), y_label="Installed", y_unit="chips", time_axis=True)
        self.chart.status_message.connect(self.status_message)

        # orders
        self.order_model = OrderTableModel()
        self.orders_table = FilterableTable(self.order_model, "Filter orders (buyer, chip, status, note…)")
        self.orders_table.view.selectionModel().selectionChanged.connect(self._on_order_selection)
        self.delete_order_button = QPushButton("Delete order")
        self.delete_order_button.setToolTip("Delete the selected order and its deliveries (Delete key; Ctrl+Z undoes)")
        self.delete_order_button.clicked.connect(self.delete_selected_order)
        self.delivery_form = self._build_delivery_form()
        self.order_form = self._build_order_form()
        orders_box = QGroupBox("Orders")
        orders_layout = QVBoxLayout(orders_box)
        orders_layout.addWidget(self.orders_table, 1)
        orders_layout.addWidget(self.order_form)

        # deliveries
        self.delivery_model = DeliveryTableModel()
        self.deliveries_table = FilterableTable(self.delivery_model, "Filter deliveries…")
        self.deliveries_table.view.setAccessibleName("Deliveries of the selected order")
        # Delete on a selected row deletes it, as the buttons do (Ctrl+Z undoes); only while the
        # table has the focus, so Delete in a cell editor or a field keeps its meaning
        for table, handler in ((self.orders_table, self.delete_selected_order),
                               (self.deliveries_table, self.delete_selected_delivery)):
            shortcut = QShortcut(QKeySequence(QKeySequence.StandardKey.Delete), table.view)
            shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
            shortcut.activated.connect(handler)
        self.deliveries_caption = QLabel()
        self.deliveries_caption.setWordWrap(True)
        deliveries_box = QGroupBox("Deliveries of the selected order")
        deliveries_layout = QVBoxLayout(deliveries_box)
        deliveries_layout.addWidget(self.deliveries_caption)
        deliveries_layout.addWidget(self.deliveries_table, 1)
        deliveries_layout.addWidget(self.delivery_form)

        orders_split = QSplitter(Qt.Orientation.Horizontal)
        orders_split.addWidget(orders_box)
        orders_split.addWidget(deliveries_box)
        orders_split.setStretchFactor(0, 3)
        orders_split.setStretchFactor(1, 2)

        # chips
        self.chip_model = ChipTableModel()
        self.chips_table = FilterableTable(self.chip_model, "Filter chips (vendor, name, link, notes…)")
        self.chips_table.view.setAccessibleName("Chip catalog")
        chips_hint = QLabel("Double-click a cell to edit it (Ctrl+Z undoes). Hover Sources and Notes "
                            "for the full text. Peaks are dense (no sparsity); link bandwidths are per "
                            "direction.")
        chips_hint.setWordWrap(True)
        chips_hint.setStyleSheet(style.hint_style())
        chips_page = QWidget()
        chips_layout = QVBoxLayout(chips_page)
        chips_layout.addWidget(chips_hint)
        chips_layout.addWidget(self.chips_table, 1)

        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(orders_split, "Orders && deliveries")
        self.tabs.addTab(chips_page, "Chip catalog")

        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.chart)
        split.addWidget(self.tabs)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        split.setChildrenCollapsible(False)
        self.splitter = split

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.banner)
        layout.addWidget(split, 1)

        if editable:
            self.chip_model.edit_handler = self._edit_chip
            self.order_model.edit_handler = self._edit_order
            self.delivery_model.edit_handler = self._edit_delivery
            for model in (self.chip_model, self.order_model, self.delivery_model):
                model.unchanged_handler = self._cell_unchanged
        else:
            for w in (self.order_form, self.delivery_form, self.delete_order_button):
                w.setEnabled(False)
            self.banner.show_info(f"{store.path} is opened read-only: viewing only, edits are disabled.")

        self._unfollow_stack = follow_store_writes(self.undo_stack, self.store, self.refresh)
        # (after the refresh above) the order a step put back or added is selected again: undoing
        # a delete left no row selected and the deliveries pane disabled
        self._stack_index = self.undo_stack.index()
        self._unfollow_selection = follow_stack(self.undo_stack, self._select_after_step)
        self.refresh()
        if self.order_model.rowCount():
            self.orders_table.view.selectRow(0)

    # ---- forms -------------------------------------------------------------------------------
    def _build_order_form(self) -> QWidget:
        self.buyer_edit = QLineEdit()
        self.buyer_edit.setPlaceholderText("Buyer")
        self.buyer_edit.setToolTip("Buyer of the new order (e.g. ByteDance)")
        self.chip_combo = QComboBox()
        self.chip_combo.setToolTip("Chip type ordered (the chips in orders come first)")
        self.chip_combo.setMinimumContentsLength(12)
        self.chip_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.order_qty_spin = QSpinBox()
        self.order_qty_spin.setRange(1, 100_000_000)
        self.order_qty_spin.setValue(1000)
        self.order_qty_spin.setGroupSeparatorShown(True)
        self.order_qty_spin.setSuffix(" chips")
        self.order_qty_spin.setToolTip("Chips ordered")
        self.order_date_edit = QDateEdit(_qdate(dt.date.today()))
        self.order_date_edit.setToolTip("Date the order was placed (the promised delivery schedule is edited "
                                        "in the table, deliveries on the right)")
        self.order_date_edit.setCalendarPopup(True)
        self.order_date_edit.setDisplayFormat("yyyy-MM-dd")
        self.status_combo = QComboBox()
        self.status_combo.addItems(["assumption", "sourced", "partial"])
        self.status_combo.setToolTip("sourced: public figures; assumption: placeholder numbers")
        self.status_combo.setAccessibleName("Status of the order's figures")
        self.add_order_button = QPushButton("Add order")
        self.add_order_button.setToolTip("Add an order with these fields (Enter in Buyer; Ctrl+Z undoes)")
        self.add_order_button.clicked.connect(self.add_order_from_form)
        self.buyer_edit.returnPressed.connect(self.add_order_from_form)   # Enter adds, as the button
        form = QWidget()
        column = QVBoxLayout(form)
        column.setContentsMargins(0, 0, 0, 0)
        first = QHBoxLayout()
        first.addWidget(self.buyer_edit, 1)
        first.addWidget(self.chip_combo, 1)
        first.addWidget(self.order_qty_spin)
        second = QHBoxLayout()
        for w in (self.order_date_edit, self.status_combo, self.add_order_button):
            second.addWidget(w)
        second.addStretch(1)
        second.addWidget(self.delete_order_button)
        # Spin boxes otherwise refuse to shrink below their widest value; keep the window narrow.
        for spin in (self.order_qty_spin, self.delivery_qty_spin):
            spin.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        column.addLayout(first)
        column.addLayout(second)
        return form

    def _build_delivery_form(self) -> QWidget:
        self.delivery_date_edit = QDateEdit(_qdate(dt.date.today()))
        self.delivery_date_edit.setMaximumDate(_qdate(dt.date.today()))   # a delivery records chips received
        self.delivery_date_edit.setCalendarPopup(True)
        self.delivery_date_edit.setDisplayFormat("yyyy-MM-dd")
        self.delivery_qty_spin = QSpinBox()
        self.delivery_qty_spin.setRange(1, 100_000_000)
        self.delivery_qty_spin.setValue(1000)
        self.delivery_qty_spin.setGroupSeparatorShown(True)
        self.delivery_qty_spin.setSuffix(" chips")
        self.delivery_date_edit.setToolTip(_delivery_tip(INSTALL_LAG_DAYS))
        self.delivery_qty_spin.setToolTip("Chips delivered on that date")
        self.delivery_note_edit = QLineEdit()
        self.delivery_note_edit.setPlaceholderText("Note / source")
        self.delivery_note_edit.setToolTip("Where the delivery figure comes from (a note for people)")
        self.add_delivery_button = QPushButton("Add delivery")
        self.add_delivery_button.setToolTip("Add a delivery to the selected order (Ctrl+Z undoes)")
        self.add_delivery_button.clicked.connect(self.add_delivery_from_form)
        self.delete_delivery_button = QPushButton("Delete delivery")
        self.delete_delivery_button.setToolTip("Delete the selected delivery (Delete key; Ctrl+Z undoes)")
        self.delete_delivery_button.clicked.connect(self.delete_selected_delivery)
        self.delivery_note_edit.setMinimumWidth(90)
        form = QWidget()
        column = QVBoxLayout(form)
        column.setContentsMargins(0, 0, 0, 0)
        fields = QHBoxLayout()
        fields.addWidget(self.delivery_date_edit)
        fields.addWidget(self.delivery_qty_spin)
        fields.addWidget(self.add_delivery_button)
        fields.addStretch(1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.delivery_note_edit, 1)
        buttons.addWidget(self.delete_delivery_button)
        column.addLayout(fields)
        column.addLayout(buttons)
        return form

    # ---- pushing commands --------------------------------------------------------------------
    def _push(self, command) -> bool:
        error = push_command(self.undo_stack, command)
        field = getattr(command, "field", None)
        if error is not None:
            message = grouped_limits(str(error))
            if field:   # the column's header, not the stored name ("Ordered (date)", not order_date)
                # and the row: a refusal read the same for every order ("Not saved: Quantity (chips): …"),
                # once ("order 3, order 3: no such order" when the store's words name it already)
                message = in_table_words(command.kind, field, message)
                if not names_row(message, command.kind, command.key):
                    message = f"{command.kind} {command.key}, {message}"
            elif getattr(command, "adds", None):
                # an Add form's refusal in the table's words too ("quantity: 70001" read the stored
                # name and an ungrouped count beside the cell's "Quantity (chips): 70,001")
                message = in_table_words(command.adds, "", message)
                order = getattr(command, "row", {}).get("order_id") if command.adds == "delivery" else None
                if order is not None and not names_row(message, "order", order):
                    message = f"order {order}, {message}"
            message = f"Not saved: {message}"
            self.banner.show_error(message)
            # the refused cell: typing its stored value back (unchanged, so no edit) clears this
            self._refused_cell = (command.kind, command.key, field) if field else None
            self.status_message.emit(message)
            return False
        self._refused_cell = None
        self.banner.dismiss_error()
        if field:
            self._name_stored_value(command)
        self.status_message.emit(f"{command_text(command)} (Ctrl+Z to undo)")
        return True

    def _name_stored_value(self, command) -> None:
        """The step's name gives the value the store kept ("→ 10000"), not the text typed
        ("→ 1e4", "→ 100,000"), which may be spelled another way."""
        try:
            text = command.text()
        except RuntimeError:   # the C++ side is gone
            return
        head, arrow, typed = text.rpartition(" → ")
        if not arrow:
            return
        stored = command.new_value
        shown = "blank" if stored in (None, "") else edit_text(stored)   # as the cell's editor shows it
        shown = " ".join(shown.split())   # one line, as _short writes it (a menu stops at a line break)
        shown = shown if len(shown) <= 30 else shown[:29] + "…"
        if shown != typed:
            command.setText(f"{head} → {shown}")
            # the Edit menu read the text when the step was pushed
            self.undo_stack.undoTextChanged.emit(self.undo_stack.undoText())

    def _cell_unchanged(self, key, field: str) -> None:
        """A refused cell edited back to its stored value: the refusal is no longer the case."""
        refused = self._refused_cell
        if refused is not None and refused[1:] == (key, field) and self.banner.kind == "error":
            self._refused_cell = None
            self.banner.dismiss_error()
            # the status line still read "Not saved: ..." for a value the store holds
            self.status_message.emit(f"{refused[0].capitalize()} {key} {field_label(refused[0], field)}: unchanged")

    # `shown`: the value the cell held when its editor opened; a store that holds another since
    # refuses the edit (another program's write is not overwritten unasked)
    def _edit_chip(self, chip_id, field, value, shown=NOT_GIVEN) -> bool:
        return self._push(EditChipCommand(self.store, chip_id, field, value, shown))

    def _edit_order(self, order_id, field, value, shown=NOT_GIVEN) -> bool:
        if not self._push(EditOrderCommand(self.store, order_id, field, value, shown)):
            return False
        if field in ("chip_id", "vendor"):   # as `orders import` warns: the forecast's risk follows the vendor
            self._warned_order = order_id
            self._check_vendor_warning()
        return True

    def _check_vendor_warning(self) -> None:
        """Warn while the order last edited has another maker's chip; an undo or a fix clears it."""
        order_id = getattr(self, "_warned_order", None)
        if order_id is None:
            return
        try:
            order = self.store.order_snapshot(order_id)["order"]
        except UserError:   # deleted since
            order = None
        # the profiles of the scenario a forecast runs, as `orders import` names them (the built-in
        # story's were named after the database's baseline gave a vendor a profile of its own)
        mismatch = order and vendor_mismatch(order["vendor"], order["chip_id"],
                                             self._chip_vendors.get(order["chip_id"], ""),
                                             self.store.risk_profile_vendors())
        if mismatch:
            self.banner.show_warning(f"Order {order_id}: {mismatch}. Kept (a reseller is possible); "
                                     "edit its vendor if that is wrong.")
            return
        self._warned_order = None
        if self.banner.kind == "warning":
            self.banner.dismiss()

    def _edit_delivery(self, delivery_id, field, value, shown=NOT_GIVEN) -> bool:
        return self._push(EditDeliveryCommand(self.store, delivery_id, field, value, shown))

    def add_order(self, row: dict) -> int | None:
        command = AddOrderCommand(self.store, row)
        if not self._push(command):
            return None
        self.select_order(command.order_id)
        return command.order_id

    def add_order_from_form(self) -> int | None:
        chip_id = self.chip_combo.currentData()
        row = {
            "buyer": self.buyer_edit.text().strip(),
            "vendor": self._chip_vendors.get(chip_id, ""),
            "chip_id": chip_id or "",
            "quantity": self.order_qty_spin.value(),
            "order_date": self.order_date_edit.date().toString("yyyy-MM-dd"),
            "status": self.status_combo.currentText(),
        }
        added = self.add_order(row)
        if added is not None:
            _forget_typing(self.buyer_edit)
        return added

    def delete_selected_order(self) -> bool:
        keys = self.orders_table.selected_keys()
        if len(keys) > 1:   # rows select several at once for copying; a delete takes one, named
            self.status_message.emit(f"{len(keys)} orders selected: select one to delete (Ctrl+C copies them all).")
            return False
        order_id = self.selected_order_id()
        if order_id is None:
            self.status_message.emit("Select an order to delete.")
            return False
        return self._push(DeleteOrderCommand(self.store, order_id))

    def add_delivery(self, row: dict) -> int | None:
        command = AddDeliveryCommand(self.store, row)
        if not self._push(command):
            return None
        return command.delivery_id

    def add_delivery_from_form(self) -> int | None:
        order_id = self.selected_order_id()
        if order_id is None:
            self.banner.show_error("Select an order first: a delivery belongs to an order.")
            return None
        added = self.add_delivery({
            "order_id": order_id,
            "date": self.delivery_date_edit.date().toString("yyyy-MM-dd"),
            "quantity": self.delivery_qty_spin.value(),
            "note": self.delivery_note_edit.text().strip(),
        })
        if added is not None:
            _forget_typing(self.delivery_note_edit)
        return added

    def delete_selected_delivery(self) -> bool:
        keys = self.deliveries_table.selected_keys()
        if len(keys) > 1:
            self.status_message.emit(f"{len(keys)} deliveries selected: select one to delete (Ctrl+C copies them all).")
            return False
        delivery_id = self.deliveries_table.selected_key()
        if delivery_id is None:
            self.status_message.emit("Select a delivery to delete.")
            return False
        return self._push(DeleteDeliveryCommand(self.store, delivery_id))

    # ---- selection ---------------------------------------------------------------------------
    def selected_order_id(self):
        return self.orders_table.selected_key()

    def select_order(self, order_id, *, reveal: bool = True) -> bool:
        return self.orders_table.select_key(order_id, reveal=reveal)

    def _on_order_selection(self, *_):
        self._refresh_deliveries()
        self._sync_delete_button()

    def _sync_delete_button(self) -> None:
        self.delete_order_button.setEnabled(self._editable and self.selected_order_id() is not None)

    def detach(self) -> None:
        """Stop following the undo stack (before the store closes: a dying stack still signals)."""
        self._unfollow_stack()
        self._unfollow_selection()

    def show_page(self, page: str | None) -> None:
        """Bring a page forward ("orders" or "chips", as a store command's `fleet_page`); None
        or another name leaves the page on screen."""
        if page in self.PAGES:
            self.tabs.setCurrentIndex(self.PAGES[page])

    def _select_after_step(self, index: int) -> None:
        undone = index < self._stack_index
        self._stack_index = index
        at = index if undone else index - 1
        command = self.undo_stack.command(at) if 0 <= at < self.undo_stack.count() else None
        order_id = getattr(command, "order_to_select", lambda _undone: None)(undone) if command is not None else None
        if order_id is not None and self.selected_order_id() != order_id:
            self.select_order(order_id)

    # ---- the panel protocol (Export all) -------------------------------------------------------
    def export_context(self) -> dict:
        """The fleet's orders and deliveries belong to the database, not to a scenario."""
        return {"Scenario": None}

    def chart_export_context(self, chart_key: str) -> dict:
        """The chart counts a chip installed the scenario's install lag after its delivery: its
        files name the scenario (the tables' do not: they are the database's)."""
        return {"Install lag": f"{self._drawn_lag_days:g} days after delivery"} if chart_key == "installed_chips" \
            else self.export_context()

    # The chart's install lag: the scenario's (the window's Forecast form, or the saved scenario an
    # export draws). It was always 30 days: with a scenario of 90 the report's Figure 1 and the
    # exported chart put chips in service 60 days before the Forecast beside them counted them (QA s39).
    @property
    def install_lag_provider(self):
        return self._lag_provider

    @install_lag_provider.setter
    def install_lag_provider(self, provider) -> None:
        self._lag_provider = provider
        self.follow_install_lag()

    def install_lag_days(self) -> float:
        lag = self._lag_provider() if self._lag_provider is not None else None
        try:
            lag = float(lag)
        except (TypeError, ValueError):
            return INSTALL_LAG_DAYS
        return lag if lag >= 0 and lag == lag else INSTALL_LAG_DAYS

    def follow_install_lag(self) -> None:
        """Redraw the chart where the scenario's install lag moved since it was drawn."""
        lag = self.install_lag_days()
        if lag == self._drawn_lag_days:
            return
        self._drawn_lag_days = lag
        self.chart.set_title(_chart_title(lag))
        self.delivery_date_edit.setToolTip(_delivery_tip(lag))
        self._refresh_chart()

    def charts(self) -> dict:
        return {"installed_chips": self.chart}

    def tables(self) -> dict:
        def table(model, rows):
            headers = [c.header for c in model.columns]
            return headers, [[row.get(c.key) for c in model.columns] for row in rows]
        deliveries = table(self.delivery_model, self.store.delivery_rows())  # every order's, not the selection
        deliveries = (["Order ID"] + deliveries[0],
                      [[r["order_id"]] + cells for r, cells in zip(self.store.delivery_rows(), deliveries[1])])
        return {"orders": table(self.order_model, self.order_model.rows()), "deliveries": deliveries,
                "chips": table(self.chip_model, self.chip_model.rows())}

    def compute_now(self) -> None:
        self.refresh()

    def scenario_state(self) -> dict:
        return {}  # the fleet is data in the store, not a scenario input

    def apply_scenario_state(self, state: dict) -> None:
        pass

    def shutdown(self) -> None:
        pass

    # ---- refresh -----------------------------------------------------------------------------
    def refresh(self, *_):
        """Re-read the store into tables and chart (after every edit, undo and redo)."""
        selected = self.selected_order_id()
        chip_rows = self.store.chip_rows()
        # One display name per chip (the catalog name's short form), as every chart shows it.
        chips = self.store.chips()
        style.register_chips(chips)
        # two chips whose short names match keep apart (their series were merged into one line)
        self._chip_names = {c.id: style.chip_display_name(c) for c in chips}
        self.order_model.chip_names = self._chip_names  # the orders table shows names, edits ids
        self._chip_vendors = {r["id"]: r.get("vendor") or "" for r in chip_rows}
        self._check_vendor_warning()
        self.chip_model.set_rows(chip_rows)
        # each read once a refresh, in one snapshot (20,000 orders: the rows were read four times and
        # the orders twice, 7.5 s after every edit, undo and redo; QA s40)
        order_rows, orders = self.store.orders_with_rows()
        self._refresh_chip_combo(chip_rows, order_rows)
        self.order_model.set_rows(order_rows)
        if selected is not None and self.selected_order_id() != selected:
            self.select_order(selected, reveal=False)   # the user's filter stays
        self._refresh_deliveries(orders)
        self._sync_delete_button()
        self._refresh_chart(orders)

    def _refresh_chip_combo(self, chip_rows, order_rows) -> None:
        current = self.chip_combo.currentData()
        ordered = list(dict.fromkeys(o["chip_id"] for o in order_rows))
        chip_rows = sorted(chip_rows, key=lambda r: r["id"] not in ordered)   # the fleet's chips first
        ids = [r["id"] for r in chip_rows]
        if [self.chip_combo.itemData(i) for i in range(self.chip_combo.count())] != ids:
            self.chip_combo.blockSignals(True)
            self.chip_combo.clear()
            for r in chip_rows:
                self.chip_combo.addItem(self._chip_names.get(r["id"], r["id"]), r["id"])
                self.chip_combo.setItemData(self.chip_combo.count() - 1, f"{r.get('vendor')} {r.get('name')} ({r['id']})",
                                            Qt.ItemDataRole.ToolTipRole)
            self.chip_combo.blockSignals(False)
        index = self.chip_combo.findData(current)
        self.chip_combo.setCurrentIndex(max(index, 0))

    def _refresh_deliveries(self, orders=None) -> None:
        """The selected order's deliveries (`orders`: the store's, when the caller has just read them)."""
        order_id = self.selected_order_id()
        if order_id is None:
            self.delivery_model.set_rows([])
            self.deliveries_caption.setText("Select an order to see and edit its deliveries.")
            self.delivery_form.setEnabled(False)
            return
        rows = self.store.delivery_rows(order_id)
        self.delivery_model.set_rows(rows)
        order = self.order_model.row_dict(self.order_model.row_of_key(order_id))
        delivered = sum(r["quantity"] for r in rows)
        outstanding = max(order["quantity"] - delivered, 0)
        chip = self._chip_names.get(order["chip_id"], order["chip_id"])
        # a schedule short of the order: the chart's promise line leaves out what has no date (QA s37)
        stored = next((o for o in (self.store.orders() if orders is None else orders) if o.id == order_id), None)
        undated = undated_chips(stored) if stored is not None and stored.promised else 0
        self.deliveries_caption.setText(
            f"Order {order_id}: {order['buyer']}, {chip}. Delivered {delivered:,} of "
            f"{order['quantity']:,} chips; {outstanding:,} outstanding"
            + (f", {undated:,} of them with no promised date." if undated else "."))
        self.delivery_form.setEnabled(not getattr(self.store, "read_only", False))

    def _refresh_chart(self, orders=None) -> None:
        orders = self.store.orders() if orders is None else orders
        months = timeline_months(orders)
        if not months:
            self.chart.clear_series()
            self.chart.set_notice("No orders yet: add one below (buyer, chip, quantity, order date), "
                                  "or File > Import orders")
            return
        self.chart.set_notice("")
        x = to_timestamps(months)
        series = installed_timeline(orders, months, install_lag_days=self._drawn_lag_days)
        wanted, chip_ids = {}, {}
        for chip_id in sorted(series, key=lambda c: self._chip_names.get(c, c)):
            wanted[self._chip_names.get(chip_id, chip_id)] = series[chip_id]
            chip_ids[self._chip_names.get(chip_id, chip_id)] = chip_id
        for name in self.chart.series_names():
            if name not in wanted and name != TOTAL_SERIES:
                self.chart.remove_series(name)
        for name, values in wanted.items():
            self.chart.set_series(name, x, values, color=style.chip_color(chip_ids[name]))
        if len(wanted) > 1:
            total = sum(wanted.values())
            self.chart.set_series(TOTAL_SERIES, x, total, color="#333333", width=1.5, dashed=True,
                                  symbol=None)
        else:
            self.chart.remove_series(TOTAL_SERIES)
        promised = promised_timeline(orders, months, self._drawn_lag_days)
        if promised is not None:  # the vendors' schedules, against what actually arrived
            self.chart.set_series(PROMISED_SERIES, x, promised, color="#999999", width=1.5, dashed=True, symbol=None)
        else:
            self.chart.remove_series(PROMISED_SERIES)


def _chart_title(lag_days: float) -> str:
    # "installed" here is every chip delivered; the Forecast's installed fleet loses failures and
    # retirements (10,000 H800 here, 9,336 there by 2025-12): the title says which
    return (f"Installed chips over time (delivered + {lag_days:g} days to install; "
            "before failures and retirement, which the Forecast counts)")


def _delivery_tip(lag_days: float) -> str:
    return f"Date the chips of this delivery arrived (installed {lag_days:g} days later, the scenario's install lag)"


def command_text(command) -> str:
    try:
        return command.text()
    except RuntimeError:  # the C++ side is gone (refused command)
        return "Done"
