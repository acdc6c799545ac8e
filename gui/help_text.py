"""Help > Quick start and Help > Glossary: short enough to read in two minutes."""

from __future__ import annotations

QUICK_START = """
<h2>Fleetcast in two minutes</h2>
<ol>
<li><b>Fleet</b> holds what you bought and what arrived: the chip catalog, orders and deliveries.
The chart shows chips installed over time (delivered + 30 days to install). Edits save at once;
Ctrl+Z undoes them.</li>
<li><b>Training</b>: pick a model, a chip and a chip count (or "the fleet installed on a date").
Fleetcast searches every parallel layout and shows time to train, MFU, memory per chip, the
step-time breakdown, a layout heatmap and other chips and counts.</li>
<li><b>Inference</b>: a model, a chip, request lengths and latency targets (TTFT, TPOT). You get
output tokens per second per chip at those targets and chips needed for a peak demand.</li>
<li><b>Forecast</b>: orders may arrive late or short; demand grows. A Monte Carlo run gives
capacity against demand month by month, as P10/P50/P90 bands.</li>
<li><b>Plan</b>: the cheapest orders (chip, quantity, month) that keep P(capacity ≥ demand) at
your confidence, or why no plan can; "Add plan as assumption orders" puts it into the Fleet.</li>
<li><b>Compare</b>: saved scenarios side by side.</li>
</ol>
<p><b>F5</b> runs the view on screen; Ctrl+C copies table cells for a spreadsheet.</p>
<p><b>Scenarios</b> (top bar) hold the inputs of every panel. An edit marks the scenario modified
(<b>*</b> in the title); <b>Save</b> (Ctrl+S) keeps it, Ctrl+Z undoes any edit, and switching or quitting
asks before unsaved edits are dropped.</p>
<p>An invalid input turns its field red; the charts grey out until it is fixed.</p>
<p><b>Export</b>: each chart's Export button, or File &gt; Export all (Ctrl+E); headless:
<code>fleetcast export --scenario NAME --out DIR</code>. Every file names its scenario, model and
workload.</p>
<p>The mouse wheel scrolls forms; it changes a field only after you click into it.</p>
"""

GLOSSARY = """
<h2>Glossary</h2>
<dl>
<dt><b>P10 / P50 / P90</b></dt><dd>Of all simulated futures, 10% / 50% / 90% fall at or below this
value. P50 is the median; P10–P90 is the range 8 in 10 futures fall in.</dd>
<dt><b>910B-equivalents</b></dt><dd>Serving capacity counted in Ascend 910B2 chips: how many 910B2s
would serve the same tokens per second. Lets a mixed fleet be added up and set against demand.</dd>
<dt><b>MFU</b> (model FLOPs utilisation)</dt><dd>Useful model arithmetic per second divided by the
chips' dense peak. 40–50% is good for large dense training; recomputation does not count.</dd>
<dt><b>HFU</b></dt><dd>Like MFU but counting recomputed work too.</dd>
<dt><b>TTFT</b> (time to first token)</dt><dd>From a request's arrival to its first output token:
queueing plus prefill of the prompt.</dd>
<dt><b>TPOT</b> (time per output token)</dt><dd>The gap between output tokens once generation runs;
50 ms is 20 tokens per second per user.</dd>
<dt><b>Goodput</b></dt><dd>The share of wall-clock time doing useful training, after failures,
restarts and checkpoints.</dd>
<dt><b>TP / PP / DP / CP / EP</b></dt><dd>Tensor, pipeline, data, context and expert parallelism:
how a model is split across chips. TP × PP × CP × DP = chips.</dd>
<dt><b>Global batch</b></dt><dd>Sequences per optimizer step over all chips; "auto" is about 4M
tokens (at least 1K tokens per chip).</dd>
<dt><b>ZeRO</b></dt><dd>Sharding optimizer state (1), gradients (2) and weights (3) across data
parallel ranks to save memory.</dd>
<dt><b>Installed</b></dt><dd>Delivered chips after 30 days of installation.</dd>
<dt><b>Demand</b></dt><dd>Inference: output tokens per second at the peak. Forecast: average input +
output tokens per day; its peak output tokens/s = tokens/day / 86,400 x peak-to-average x output
share of the request mix.</dd>
</dl>
"""
