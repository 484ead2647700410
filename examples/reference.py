import os
import pandas as pd
import numpy as np
def main():
    print("Hello")
    a = 2
    b = a + 3
    return {"status": b}
