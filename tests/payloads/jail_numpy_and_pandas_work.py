# numpy (BLAS matmul, SVD, FFT) and pandas (groupby, CSV round trip through /tmp) inside the
# jail: the preloaded modules and the extension modules they import late still load.
import io

import numpy as np
import pandas as pd


def main():
    matrix = np.arange(16, dtype=float).reshape(4, 4) + np.eye(4)
    frame = pd.DataFrame({"key": ["a", "b", "a", "c"], "value": [1, 2, 3, 4]})
    frame.to_csv("/tmp/frame.csv", index=False)
    again = pd.read_csv("/tmp/frame.csv")
    sums = again.groupby("key")["value"].sum()
    return {"trace": float(np.trace(matrix @ np.eye(4))),
            "singular": int(len(np.linalg.svd(matrix)[1])),
            "fft": float(np.fft.fft(np.ones(8))[0].real),
            "sums": {key: int(value) for key, value in sums.items()},
            "csv": io.StringIO(again.to_csv(index=False)).getvalue().splitlines()[0]}
