"""Neural-network pieces from scratch in NumPy: layers, losses, gradient checks, an MLP,
optimisers, regularisation, convolution, pooling and batch normalisation."""

from workbook.numpy_nn.conv import (
    avgpool2d, avgpool2d_backward, avgpool2d_forward, batchnorm_backward, batchnorm_forward,
    conv2d_backward, conv2d_backward_naive, conv2d_forward, conv2d_forward_naive, conv_output_size,
    maxpool2d_backward, maxpool2d_forward,
)
from workbook.numpy_nn.divergence import kl_divergence, kl_divergence_with_logits
from workbook.numpy_nn.gradcheck import numerical_gradient, numerical_gradient_array, relative_error
from workbook.numpy_nn.layers import (
    affine_backward, affine_forward, leaky_relu_backward, leaky_relu_forward, relu_backward,
    relu_forward, sigmoid, sigmoid_backward, sigmoid_forward, tanh_backward, tanh_forward,
)
from workbook.numpy_nn.losses import (
    binary_cross_entropy_with_logits, log_softmax, mse, softmax, softmax_cross_entropy,
)
from workbook.numpy_nn.mlp import MLP, iterate_minibatches, sgd_step, train_sgd
from workbook.numpy_nn.optim import SGD, Adadelta, Adagrad, Adam, AdamW, Optimizer, RMSprop
from workbook.numpy_nn.perceptron import perceptron_predict, perceptron_train, perceptron_update
from workbook.numpy_nn.regularization import dropout_backward, dropout_forward, l2_penalty

__all__ = [
    "affine_forward", "affine_backward", "relu_forward", "relu_backward",
    "leaky_relu_forward", "leaky_relu_backward", "sigmoid", "sigmoid_forward",
    "sigmoid_backward", "tanh_forward", "tanh_backward", "softmax", "log_softmax",
    "softmax_cross_entropy", "binary_cross_entropy_with_logits", "mse",
    "numerical_gradient", "numerical_gradient_array", "relative_error",
    "MLP", "sgd_step", "iterate_minibatches", "train_sgd",
    "Optimizer", "SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW",
    "dropout_forward", "dropout_backward", "l2_penalty",
    "kl_divergence", "kl_divergence_with_logits",
    "perceptron_predict", "perceptron_update", "perceptron_train",
    "conv_output_size", "conv2d_forward_naive", "conv2d_backward_naive", "conv2d_forward",
    "conv2d_backward", "maxpool2d_forward", "maxpool2d_backward", "avgpool2d_forward",
    "avgpool2d_backward", "avgpool2d", "batchnorm_forward", "batchnorm_backward",
]
