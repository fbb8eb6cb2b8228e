"""CRC-32 (zlib's) of uint8 data, bit by bit in uint32 arithmetic."""

import numpy as np


def crc32(data):
    """CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320) of a uint8 array, bit by
    bit in uint32 arithmetic; equals `zlib.crc32(data.tobytes())`.
    """
    crc = np.uint32(0xFFFFFFFF)
    for i in range(data.shape[0]):
        crc ^= np.uint32(data[i])
        for _ in range(8):
            if crc & 1:
                crc = (crc >> 1) ^ np.uint32(0xEDB88320)
            else:
                crc >>= 1
    return crc ^ np.uint32(0xFFFFFFFF)


def make_inputs(n, rng, dtype=None):
    return (rng.integers(0, 256, size=n, dtype=np.uint8),)
