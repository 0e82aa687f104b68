"""The JAX backend: a kernel as a JAX program over whole arrays, and JAX as a second oracle.

``render`` writes the JAX program of a kernel from the reference's typed reading of it (or says why it cannot);
``oracle`` runs it on the kernel's inputs in a child process and compares with the numpy reference, and lowers it to
the HLO the corpus stores; ``gradient`` checks Warp's backward pass against JAX's exact derivative of the same
program. A disagreement of JAX with the reference is a bug of ours or of JAX, never a Warp report. Needs the
``[jax]`` extra; without it every kernel is recorded as not expressible, with the reason.
"""
