"""Voice menus and the self-service banking behind them. Transport-free: events in, actions out."""
