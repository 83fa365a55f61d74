"""What one order costs on the deployed stack: `make calls-per-order`
(scripts/measure/calls_per_order.py) measures three scenarios on LocalStack with this repo's
extension and prices them with docs/capacity.md's unit prices.

- `prices`: the unit prices (each quoted from docs/capacity.md) and dollars per million orders;
- `tally`: a scenario's raw counts -> per-order figures (pure);
- `budget`: the committed WRU-per-order budget (docs/cost-budget.json) and its check (pure);
- `report`: the markdown tables (pure);
- `live`: the counters read from the running emulator (capacity, IAM usage, requests, logs);
- `scenarios`: placing the orders and waiting until they are settled.
"""
