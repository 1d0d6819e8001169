"""Offline test kit: tiny random-weight Qwen2.5-VL checkpoints (``tiny``) and synthetic videos (``videos``).

Users can call these in their own CI; nothing here downloads anything.
"""
