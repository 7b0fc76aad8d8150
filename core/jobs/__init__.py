"""Job runtime & memory: parse flow logs, learn stage runtime and peak memory, predict safe requests."""
