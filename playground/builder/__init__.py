"""The builder page's UI, one module per section: ``start`` (presets, new, undo, input shape), ``picker`` (the layer
to edit), ``actions`` (structural edits), ``fields`` (the selected layer's arguments), ``details`` (its formulas,
the totals, the table and the drawing), ``lesson`` (1×1 convolutions) and ``export`` (share, import, code);
``editor`` holds the editing state they share."""
