"""UI: builder."""
