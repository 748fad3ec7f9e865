"""The seed article's code (its section 4), as written, on the local MNIST files.

    python bench/article_script.py            # prints 'Test accuracy: 0.97...'
    python bench/article_script.py --seed 1   # the same with Keras's random seed set

Two changes to the article's lines, both marked below:
- `mnist.load_data()` becomes `load_data()`, which returns the same four arrays from the local IDX
  files (read and verified by fusion_core.data, as the app does) instead of downloading them;
- the images are flattened to 784 values. The article's model declares `input_shape=(28 * 28,)` but
  is given the 28x28 arrays; Keras 3 refuses that ("Input 0 of layer "dense" is incompatible with
  the layer: expected axis -1 of input shape to have value 784"), so the script as printed does not
  run. Flattening is what the declared input shape asks for.
Everything else (Adam, Keras's default batch size of 32, 5 epochs, all 60,000 training images, no
validation data) is the article's. bench/bench_accuracy.py runs it side by side with the engine's
"The article's code" preset.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def load_data():
    """`tf.keras.datasets.mnist.load_data()`'s ((x_train, y_train), (x_test, y_test)), read locally.

    From $FUSION_LAB_MNIST when set, else the four IDX files `make setup` put beside the virtualenv.
    """
    from fusion_core.data import load_mnist, setup_copy_dir

    data = load_mnist(os.environ.get("FUSION_LAB_MNIST") or setup_copy_dir())
    return (data.x_train, data.y_train), (data.x_test, data.y_test)


def article(seed: int | None = None, verbose: str | int = "auto") -> float:
    """Runs the article's lines and returns its test accuracy."""
    import tensorflow as tf
    from tensorflow.keras import layers, models

    if seed is not None:
        tf.keras.utils.set_random_seed(seed)

    # 定义数据集
    (x_train, y_train), (x_test, y_test) = load_data()  # changed: was mnist.load_data()

    # 数据预处理
    x_train = x_train / 255.0
    x_test = x_test / 255.0
    x_train = x_train.reshape(-1, 28 * 28)  # added: the model's declared input shape
    x_test = x_test.reshape(-1, 28 * 28)  # added

    # 定义堆叠网络
    model = models.Sequential()
    model.add(layers.Dense(512, activation="relu", input_shape=(28 * 28,)))
    model.add(layers.Dense(512, activation="relu"))
    model.add(layers.Dense(10, activation="softmax"))

    # 编译模型
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    # 训练模型
    model.fit(x_train, y_train, epochs=5, verbose=verbose)

    # 评估模型
    test_loss, test_acc = model.evaluate(x_test, y_test, verbose=verbose)
    print("Test accuracy:", test_acc)
    return float(test_acc)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="The seed article's MNIST example, run as written.")
    parser.add_argument("--seed", type=int, default=None, help="Keras's random seed (default: none)")
    article(parser.parse_args().seed)
