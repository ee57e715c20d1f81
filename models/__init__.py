"""Typed data that crosses a boundary between stages, storage, the flow and the API."""
