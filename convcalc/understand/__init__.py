"""Tools for understanding and designing a layer rather than just counting it.

- `transpose`: the output_padding ambiguity of transposed convolutions, solved in both directions
- `explain`: the arithmetic of one layer with the user's numbers, the matrix view, translation equivariance
- `matrix`: a conv / transposed conv as an explicit matrix (pure Python; torch only to verify)
- `separable`: exact rank and rational factors of a 2D kernel
- `compare`: a conv against its grouped / depthwise-separable / spatially separable counterparts

Every shape and count comes from the layer classes (convcalc.layers); this package only arranges them.
Nothing here imports torch at module level.
"""

from __future__ import annotations
