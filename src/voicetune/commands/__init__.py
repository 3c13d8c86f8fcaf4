"""One module per CLI verb. Each exposes typer command functions; heavy imports happen inside them."""
