"""The delivery loop's parts: lanes, offsets, batch windows, delivery, membership, stops."""
