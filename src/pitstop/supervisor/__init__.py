"""The on-instance daemon: run lifecycle (pure), tick loop, process control, spot watcher."""
