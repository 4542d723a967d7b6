"""The chat turn as an application service, independent of HTTP: every front door parses its
wire format into a `TurnRequest`, runs a `Turn`, and renders its events and `TurnResult`."""
