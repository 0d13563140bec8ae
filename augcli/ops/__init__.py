"""Pure pixel kernels: no randomness, no validation. Callers pass checked arguments.

Every kernel takes and returns an image laid out (H, W, C) with C in {1, 3, 4}
and dtype uint8 or uint16, and never modifies its input.
"""
