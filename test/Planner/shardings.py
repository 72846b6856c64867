"""Prints the split_axes of the named parameters of a planned model.mlir.

Usage: shardings.py MODEL.mlir NAME... One line per name: the name, then per
dimension the grid axes it is split over ("-" for none), e.g.
"layers.0.mlp.up.weight - 2".
"""
import re
import sys

text = open(sys.argv[1]).read()
# Argument number of each parameter name, from the function signature.
args = dict(
    (name, num)
    for num, name in re.findall(r'%arg(\d+): tensor<[^>]*> \{autopar.name = "([^"]+)"', text))
# The sharding each argument is annotated with.
shardings = dict(re.findall(
    r'%(sharding_\d+) = shard.sharding @grid split_axes = (\[.*?\]) :', text))
annotated = dict(re.findall(r'shard.shard %arg(\d+) to %(sharding_\d+)', text))
for name in sys.argv[2:]:
    if name not in args:
        sys.exit(f"no parameter {name}")
    axes = re.findall(r'\[([^\[\]]*)\]', shardings[annotated[args[name]]])
    print(name, " ".join(a.replace(" ", "") or "-" for a in axes))
