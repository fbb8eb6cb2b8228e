"""CRC-16/CCITT-FALSE of uint8 data in uint16 arithmetic."""

import numpy as np


def crc16(data):
    """CRC-16/CCITT-FALSE (polynomial 0x1021, initial value 0xFFFF, MSB first) of a
    uint8 array in uint16 arithmetic: `crc << 1` wraps around at 16 bits, as NumPy's
    uint16 does. Equals `binascii.crc_hqx(data.tobytes(), 0xFFFF)`.
    """
    crc = np.uint16(0xFFFF)
    for i in range(data.shape[0]):
        crc ^= np.uint16(data[i]) << 8
        for _ in range(8):
            if crc & 0x8000:
                crc = (crc << 1) ^ 0x1021
            else:
                crc = crc << 1
    return crc


def make_inputs(n, rng, dtype=None):
    return (rng.integers(0, 256, size=n, dtype=np.uint8),)
