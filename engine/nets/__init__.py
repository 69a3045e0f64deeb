"""Networks: the spec format and its layer kinds, building, summarising, generating code, presets and their
pretrained weights, lessons on cost, and looking inside a built network."""
