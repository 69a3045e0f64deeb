"""The "Localisation & landmarks" page's UI, by section: the target vector and its loss (target, points), training
(train), held-out results (views, shared with the Training page) and the landmark-order lesson (order)."""
