"""autopar's Python front end.

For now it wraps the command-line tools: `autopar.run` executes a function of
an autopar module on the CPU through `autopar-run` and returns numpy arrays.
"""

from .runner import AutoparError, find_tool, run
from .safetensors import read_safetensors

__all__ = ["AutoparError", "find_tool", "read_safetensors", "run"]
