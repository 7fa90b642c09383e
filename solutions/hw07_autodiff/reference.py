"""Reference solutions for hw07_autodiff: reverse-mode automatic differentiation, built from VJPs.

Each function is a stub in the student notebook; its body here is the reference answer.  The
``Node`` class is one notebook cell: its methods with a docstring are the student's (each becomes
a stub), the others are given as they are (``course.notebook.stub_source``).  torch serves only
as an array library here: no autograd anywhere.
"""

from typing import Callable

import torch


def unbroadcast(g: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    r"""Sum a gradient back down to the shape of the operand it belongs to.

    When an operand of shape ``shape`` was broadcast in an elementwise operation, torch
    (1) added leading axes and (2) stretched the axes of size 1. Each copy of an entry received
    part of the upstream gradient $g$, so the operand's gradient is the sum over the copies:

    1. sum $g$ over its leading axes until it has ``len(shape)`` axes;
    2. sum over every axis where ``shape`` has size 1 and $g$ does not, keeping that axis.

    Return a tensor of exactly ``shape`` (``()`` gives a 0-d tensor: the sum of every entry).
    This is the VJP of broadcasting. Example: $g$ of shape $(2, 3, 4)$ to ``(3, 1)`` sums
    over axis 0, then over the last axis.
    """
    shape = tuple(shape)
    extra = g.dim() - len(shape)
    if extra > 0:
        g = g.sum(dim=tuple(range(extra)))
    stretched = tuple(axis for axis, size in enumerate(shape) if size == 1 and g.shape[axis] != 1)
    if stretched:
        g = g.sum(dim=stretched, keepdim=True)
    return g


def log_softmax(z: torch.Tensor) -> torch.Tensor:
    r"""Row-wise log-softmax of logits $z$ of shape $(N, C)$, stable for large logits.

    $$\mathrm{log\_softmax}(z)_{ij} = z_{ij} - \log \sum_{k} e^{z_{ik}}.$$

    $e^{1000}$ overflows to ``inf``, so subtract each row's maximum $m_i$ first (the result does
    not change: $z_{ij} - m_i - \log \sum_k e^{z_{ik} - m_i}$, and now every exponent is at most
    0). Return a tensor of $z$'s shape and dtype, with no ``inf`` and no ``nan``.
    """
    shifted = z - z.max(dim=-1, keepdim=True).values
    return shifted - shifted.exp().sum(dim=-1, keepdim=True).log()


class Node:
    r"""A value of a computation, and the way back to its inputs.

    - ``value``: a float64 tensor (0-d for a scalar);
    - ``grad``: a tensor of ``value``'s shape, zeros until ``backward`` fills it;
    - ``parents``: the nodes this one was computed from, each with its VJP: a function that
      takes the gradient $g$ of the final scalar with respect to this node and returns the part
      of that gradient which flows to the parent, $g^\top \frac{\partial\, \text{this}}{\partial\, \text{parent}}$,
      shaped like the parent's value.

    Every operation computes its value with torch, then returns a new ``Node`` whose parents
    carry their VJPs. Python numbers and plain tensors become constant nodes: no gradient is
    computed for them, and ``backward`` never visits them.
    """

    def __init__(self, value, parents=(), constant: bool = False):
        self.value = torch.as_tensor(value, dtype=torch.float64)
        self.grad = torch.zeros_like(self.value)
        # A constant needs no gradient; a node computed only from constants is a constant too.
        self.parents = [(parent, vjp) for parent, vjp in parents if not parent.constant]
        self.constant = constant or (len(parents) > 0 and not self.parents)

    @staticmethod
    def _lift(x) -> "Node":
        # Python numbers and tensors enter the graph as constants.
        return x if isinstance(x, Node) else Node(x, constant=True)

    @property
    def shape(self) -> torch.Size:
        return self.value.shape

    def __repr__(self) -> str:
        return f"Node({self.value}, grad={self.grad})"

    # A worked example: z = x + y. Each operand's gradient is g, summed back to its own shape.
    def __add__(self, other) -> "Node":
        other = Node._lift(other)
        return Node(self.value + other.value, [
            (self, lambda g: unbroadcast(g, self.value.shape)),
            (other, lambda g: unbroadcast(g, other.value.shape)),
        ])

    # A worked example: y = exp(x), elementwise, so dy/dx = exp(x) = y.
    def exp(self) -> "Node":
        out = self.value.exp()
        return Node(out, [(self, lambda g: g * out)])

    def __radd__(self, other) -> "Node":
        return Node._lift(other) + self

    def __sub__(self, other) -> "Node":
        return self + (-Node._lift(other))

    def __rsub__(self, other) -> "Node":
        return Node._lift(other) + (-self)

    def __rmul__(self, other) -> "Node":
        return Node._lift(other) * self

    def __rtruediv__(self, other) -> "Node":
        return Node._lift(other) / self

    def __rmatmul__(self, other) -> "Node":
        return Node._lift(other) @ self

    def __neg__(self) -> "Node":
        r"""$y = -x$, elementwise, shaped like $x$.

        Its VJP maps the gradient of $y$ to the gradient of $x$, of $x$'s shape.
        """
        return Node(-self.value, [(self, lambda g: -g)])  # VJP: g -> -g

    def __mul__(self, other) -> "Node":
        r"""$z = x \odot y$, elementwise with broadcasting (``other`` may be a number): $z$ has the
        broadcast shape of $x$ and $y$.

        Its VJP maps the gradient of $z$ to the gradient of each operand, reduced to that operand's
        shape with ``unbroadcast``.
        """
        other = Node._lift(other)
        # VJPs: g -> g * y for x and g -> g * x for y, each summed back to its operand's shape.
        return Node(self.value * other.value, [
            (self, lambda g: unbroadcast(g * other.value, self.value.shape)),
            (other, lambda g: unbroadcast(g * self.value, other.value.shape)),
        ])

    def __truediv__(self, other) -> "Node":
        r"""$z = x / y$, elementwise with broadcasting (``other`` may be a number): $z$ has the
        broadcast shape of $x$ and $y$.

        Its VJP maps the gradient of $z$ to the gradient of each operand, reduced to that operand's
        shape with ``unbroadcast``.
        """
        other = Node._lift(other)
        # dz/dx = 1/y and dz/dy = -x/y^2: VJPs g -> g / y and g -> -g x / y^2, each unbroadcast.
        return Node(self.value / other.value, [
            (self, lambda g: unbroadcast(g / other.value, self.value.shape)),
            (other, lambda g: unbroadcast(-g * self.value / other.value ** 2, other.value.shape)),
        ])

    def __pow__(self, p: float) -> "Node":
        r"""$y = x^p$ elementwise, for a Python number $p$ (negative or fractional too), shaped like $x$.

        Its VJP maps the gradient of $y$ to the gradient of $x$, of $x$'s shape.
        """
        return Node(self.value ** p, [(self, lambda g: g * p * self.value ** (p - 1))])  # VJP: g -> g p x^(p-1)

    def __matmul__(self, other) -> "Node":
        r"""$Z = X Y$ for matrices $X$ $(n, k)$ and $Y$ $(k, m)$: $Z$ is $(n, m)$.

        Its VJP maps $G = \partial L / \partial Z$, of shape $(n, m)$, to the gradient of $X$, of
        shape $(n, k)$, and to the gradient of $Y$, of shape $(k, m)$.
        """
        other = Node._lift(other)
        # VJPs: G -> G Y^T for X and G -> X^T G for Y.
        return Node(self.value @ other.value, [
            (self, lambda g: g @ other.value.T),
            (other, lambda g: self.value.T @ g),
        ])

    @property
    def T(self) -> "Node":
        r"""The transpose of a matrix: $Y = X^\top$, of shape $(m, n)$ for $X$ of shape $(n, m)$.

        Its VJP maps the gradient of $Y$ to the gradient of $X$, of $X$'s shape.
        """
        return Node(self.value.T, [(self, lambda g: g.T)])  # VJP: G -> G^T

    def log(self) -> "Node":
        r"""$y = \log x$ elementwise, shaped like $x$.

        Its VJP maps the gradient of $y$ to the gradient of $x$, of $x$'s shape.
        """
        return Node(self.value.log(), [(self, lambda g: g / self.value)])  # VJP: g -> g / x

    def relu(self) -> "Node":
        r"""$y = \max(x, 0)$ elementwise, shaped like $x$.

        Its VJP maps the gradient of $y$ to the gradient of $x$, of $x$'s shape. At $x = 0$ take
        the slope to be 0, as PyTorch does.
        """
        return Node(torch.relu(self.value), [(self, lambda g: g * (self.value > 0))])  # VJP: g -> g [x > 0]

    def sigmoid(self) -> "Node":
        r"""$s = 1 / (1 + e^{-x})$ elementwise, shaped like $x$.

        Its VJP maps the gradient of $s$ to the gradient of $x$, of $x$'s shape; it may reuse $s$.
        """
        s = torch.sigmoid(self.value)
        # VJP: g -> g * s * (1 - s), from the saved forward value.
        return Node(s, [(self, lambda g: g * s * (1 - s))])

    def tanh(self) -> "Node":
        r"""$t = \tanh x$ elementwise, shaped like $x$.

        Its VJP maps the gradient of $t$ to the gradient of $x$, of $x$'s shape; it may reuse $t$.
        """
        t = torch.tanh(self.value)
        # VJP: g -> g * (1 - t^2), from the saved forward value.
        return Node(t, [(self, lambda g: g * (1 - t * t))])

    def sum(self) -> "Node":
        r"""The sum of every entry of $x$, a 0-d node.

        Its VJP maps the 0-d gradient of the sum to the gradient of $x$, a tensor of $x$'s shape.
        """
        shape = self.value.shape
        # Every entry's partial derivative is 1: the VJP copies the scalar g into x's shape.
        return Node(self.value.sum(), [(self, lambda g: g.expand(shape))])

    def mean(self) -> "Node":
        r"""The mean of every entry of $x$, a 0-d node: $\frac{1}{n} \sum_i x_i$ with $n$ the number
        of entries (all of them, not the rows).

        Its VJP maps the 0-d gradient of the mean to the gradient of $x$, a tensor of $x$'s shape.
        """
        shape, n = self.value.shape, self.value.numel()
        # VJP: g / n in every entry.
        return Node(self.value.mean(), [(self, lambda g: g.expand(shape) / n)])

    def log_softmax(self) -> "Node":
        r"""Row-wise log-softmax of logits $z$ $(N, C)$, with the stable ``log_softmax`` above: the
        result is $(N, C)$.

        Its VJP maps the gradient of the result, $(N, C)$, to the gradient of $z$, $(N, C)$. Each
        row of the result depends on every entry of the same row of $z$, and on no other row. It
        may reuse the value computed in the forward pass.
        """
        out = log_softmax(self.value)
        # With p = exp(out) (the softmax), a row's Jacobian is I - 1 p^T, so the VJP is
        # g -> g - p * (g summed over its row, broadcast back along the row).
        return Node(out, [(self, lambda g: g - out.exp() * g.sum(dim=-1, keepdim=True))])

    def cross_entropy(self, y: torch.Tensor) -> "Node":
        r"""Mean cross-entropy of logits $z$ $(N, C)$ with int64 labels $y$ $(N,)$, a 0-d node.

        $$L = -\frac{1}{N} \sum_{i=1}^{N} \mathrm{log\_softmax}(z)_{i, y_i}.$$

        One node with one fused VJP: it maps the 0-d gradient of $L$ straight to the gradient of
        $z$, of shape $(N, C)$, without recording the pieces of $L$. Compute the values with the
        stable ``log_softmax``.
        """
        logp = log_softmax(self.value)
        # Fused VJP: g -> g (softmax(z) - onehot(y)) / N.
        N = self.value.shape[0]
        rows = torch.arange(N, device=y.device)
        loss = -logp[rows, y].mean()

        def vjp(g):
            d = logp.exp()
            d[rows, y] -= 1
            return g * d / N
        return Node(loss, [(self, vjp)])

    def backward(self) -> None:
        r"""Fill ``grad`` of every node this 0-d node was computed from.

        Seed ``self.grad`` with 1 ($\partial L / \partial L$). Then visit each node once, in
        reverse topological order (a node only after every node that uses it), and send its
        gradient to each parent through that parent's VJP. Accumulate with ``+=``: a node used
        by several others receives a gradient from each (the multivariate chain rule). Find the
        order without recursion (a depth-first search with your own stack): a chain of 100,000
        nodes must work.
        """
        order, seen, stack = [], set(), [(self, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)  # after all of its parents: a topological order
                continue
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.append((node, True))
            stack += [(parent, False) for parent, _ in node.parents if id(parent) not in seen]
        self.grad = torch.ones_like(self.value)
        for node in reversed(order):
            for parent, vjp in node.parents:
                parent.grad += vjp(node.grad)


def grad(f: Callable, *xs) -> tuple[float, list[torch.Tensor]]:
    r"""The value of a scalar function and its gradient with respect to each input, by your engine.

    Wrap each input ``x`` (a tensor or a Python number) in a ``Node``, evaluate ``f`` on the
    nodes (``f`` uses only the operations of ``Node``), and run ``backward`` on the result.
    Return ``(value, grads)``: the value as a Python float, and a list with one float64 tensor
    per input, shaped like that input. Autograd is not allowed.
    """
    nodes = [Node(x) for x in xs]
    out = f(*nodes)
    out.backward()
    return out.value.item(), [node.grad for node in nodes]


def train_mlp(X: torch.Tensor, y: torch.Tensor, W1: torch.Tensor, b1: torch.Tensor, W2: torch.Tensor,
              b2: torch.Tensor, lr: float, steps: int) -> list[float]:
    r"""Full-batch gradient descent on a two-layer ReLU classifier, with gradients from your engine.

    The loss, for $X$ $(N, d)$, int64 labels $y$ $(N,)$, $W_1$ $(h, d)$, $b_1$ $(h,)$,
    $W_2$ $(C, h)$, $b_2$ $(C,)$:
    $$L = \mathrm{cross\_entropy}\big(\mathrm{relu}(X W_1^\top + b_1)\, W_2^\top + b_2,\; y\big).$$

    Starting from the given parameters, repeat ``steps`` times: compute $L$ and its gradients
    with ``Node`` and ``backward``, record $L$ (a Python float, before the update), then update
    every parameter, $\theta \leftarrow \theta - \mathrm{lr}\, \partial L / \partial \theta$.
    Return the list of the ``steps`` losses. Leave the input tensors unchanged (make new
    tensors: ``W1 = W1 - lr * ...``, never ``W1 -= ...``).
    """
    params = [W1, b1, W2, b2]
    losses = []
    for _ in range(steps):
        nodes = [Node(p) for p in params]
        w1, c1, w2, c2 = nodes
        loss = ((X @ w1.T + c1).relu() @ w2.T + c2).cross_entropy(y)
        loss.backward()
        losses.append(loss.value.item())
        params = [p - lr * node.grad for p, node in zip(params, nodes)]
    return losses
