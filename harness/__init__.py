"""The verification harness: build -> run -> compare -> extract -> store, and the command lines."""

GENERATOR_VERSION = "0.5.5"
