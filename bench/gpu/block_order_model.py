#!/usr/bin/env python3
"""A list-scheduling model of the causal attention kernels' block order.

The GPU starts blocks in launch order (x fastest) as slots free up. Under a
causal mask a tile's block costs its tiles: the forward kernel's query tile
r (counted from the last) meets tiles - r key tiles, the backward kernel's
key tile r as many query tiles. This prints when the last block ends, in
tile-times, with the blocks head-major (the grid's order: every tile of a
head, then the next head) and tile-major (every head's costliest tile, then
every head's second: what runtime/cuda/Attention.cpp launches), against the
ideal (all work spread evenly). No GPU needed; the device measures the real
ratio (bench/gpu/attention_bench.cpp).

usage: block_order_model.py [TILES [HEADS [SLOTS [OVERHEAD]]]]
  defaults: gpt2-small's 16 tiles of 64 positions, 96 heads (8 x 12),
  132 SMs x 3 blocks, 0.3 of a tile per block (loads and stores).
"""
import heapq
import sys


def makespan(costs, slots):
    free = [0.0] * slots
    end = 0.0
    for cost in costs:
        start = heapq.heappop(free)
        end = max(end, start + cost)
        heapq.heappush(free, start + cost)
    return end


def main():
    args = [float(a) for a in sys.argv[1:]]
    tiles, heads, slots, overhead = (args + [16, 96, 396, 0.3][len(args):])[:4]
    tiles, heads, slots = int(tiles), int(heads), int(slots)
    cost = [tiles - r + overhead for r in range(tiles)]  # rank 0 costliest
    head_major = [cost[r] for _ in range(heads) for r in range(tiles)]
    tile_major = [cost[r] for r in range(tiles) for _ in range(heads)]
    ideal = sum(head_major) / slots
    a, b = makespan(head_major, slots), makespan(tile_major, slots)
    print(f"{tiles} tiles x {heads} heads on {slots} slots, {overhead} of a "
          f"tile a block: head-major {a:.1f} tile-times, tile-major {b:.1f}, "
          f"ideal {ideal:.1f}; head-major / tile-major = {a / b:.2f}")


if __name__ == "__main__":
    main()
