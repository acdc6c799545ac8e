"""Serving under load: per-step cost (cost_model) <- continuous-batching simulator (simulator)
<- SLO capacity, chips for a demand and load curves (capacity) <- the layout chosen under a load
(slo_layout). Engine families and their documented scheduler defaults live in `families`."""
