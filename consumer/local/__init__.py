"""The bridge's surroundings on one machine: a local Lambda service and an embedded broker.

Used by the local mode and the tests; left out of the production image.
"""

from consumer.local.functions import FunctionSpec, LambdaContext
from consumer.local.handlers import HandlerLoadError, load_handler
from consumer.local.invocations import Invocation, InvocationRecord, Outcome
from consumer.local.server import LocalLambda
from consumer.local.tansu import TansuBroker, TansuUnavailable
from consumer.local.threaded import ThreadedLocalLambda

__all__ = [
    "FunctionSpec",
    "HandlerLoadError",
    "Invocation",
    "InvocationRecord",
    "LambdaContext",
    "LocalLambda",
    "Outcome",
    "TansuBroker",
    "TansuUnavailable",
    "ThreadedLocalLambda",
    "load_handler",
]
