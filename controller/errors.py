"""The project's error tree, classed by what the reconcile loop does next.

ControllerError
├── ConfigError            bad settings: refuse to start, exit non-zero
├── LabelError             bad f5.* labels: skip that workload, report it, keep the others
├── DockerUnavailable      engine unreachable: retry with backoff, keep the BIG-IP as it is
├── InputError             input from outside is malformed: report it, name where
│   ├── ComposeFileError       a compose file cannot be read (validate / plan -f exit 2)
│   ├── WorkloadJsonError      a workload in a peer's inventory is malformed
│   ├── PeerError              a peer did not answer or answered no inventory (too big,
│   │                          nested too deep, wrong fields): its workloads stay as
│   │                          last seen until they go stale
│   └── IcontrolJsonError      an iControl REST item the core cannot read (raised by the
│                              pure core; the adapter turns it into BigipMalformed)
└── BigipError             anything the BIG-IP answered or failed to answer
    ├── BigipRetryable     timeouts, 5xx, restjavad/mcpd restarting, expired token:
    │   │                  the run fails, the next run (after backoff) tries again
    │   └── BigipMalformed     a 2xx reply that is not what iControl REST sends (not JSON,
    │                          an array for an object, an item without name/partition, a
    │                          ratio that is no integer); names the request and the field
    ├── BigipAuthError     credentials rejected: retry with backoff, alert
    └── BigipRejected      the device refused the request (400/404/409): the run fails,
        ├── BigipNotFound      retrying the same write will not help
        ├── BigipConflict
        ├── BigipInUse
        └── BigipRedirected    a 3xx: never followed (token and password would go to the
                               target); names the status and the Location; fix bigip-url
"""

from __future__ import annotations


class ControllerError(Exception):
    """Base of every error the controller raises on purpose."""


class ConfigError(ControllerError):
    """A setting is missing or invalid; the message names the setting."""


class LabelError(ControllerError):
    """An f5.* label of one workload is invalid.

    `workload` names the workload, `label` the offending label key (or "" when the problem
    concerns the workload as a whole), `reason` says what is wrong.
    """

    def __init__(self, workload: str, label: str, reason: str) -> None:
        self.workload = workload
        self.label = label
        self.reason = reason
        where = f"{workload}: label {label}" if label else workload
        super().__init__(f"{where}: {reason}")


class DockerUnavailable(ControllerError):
    """The Docker engine did not answer."""


class InputError(ControllerError, ValueError):
    """Input from outside the process (a file, a peer's answer) is malformed."""


class ComposeFileError(InputError):
    """The file cannot be read as a compose file; the message names the file and why."""


class WorkloadJsonError(InputError):
    """A workload's JSON is malformed; the message starts with the path of the bad field."""


class PeerError(InputError):
    """A peer did not answer, or answered something that is not an inventory; names the peer."""


class IcontrolJsonError(InputError):
    """An item of an iControl REST reply cannot be read as a model object.

    `field` is the path of the bad field ("membersReference.items[1].ratio", "" for the item
    itself), `problem` what is wrong with it. The adapter, which knows the request, turns it
    into BigipMalformed.
    """

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}" if field else problem)

    def under(self, parent: str) -> IcontrolJsonError:
        """The same error seen from the object that holds this one at `parent`."""
        return IcontrolJsonError(f"{parent}.{self.field}" if self.field else parent, self.problem)


class BigipError(ControllerError):
    """The BIG-IP failed a request. `status` is the HTTP status (0 when none came back)."""

    def __init__(
        self, message: str, status: int = 0, code: str = "", method: str = "", path: str = ""
    ) -> None:
        self.status = status
        self.code = code  # mcpd message code such as "01020036", "" when absent
        self.method = method
        self.path = path
        super().__init__(message)


class BigipRetryable(BigipError):
    """Worth trying again later: timeouts, connection errors, 5xx, services restarting."""


class BigipMalformed(BigipRetryable):
    """A 2xx reply of the wrong shape; the message names the request and what was wrong.

    Retryable: a proxy's page or a half-restarted restjavad goes away; a device object that
    stays unreadable keeps failing the run loudly instead of being skipped or crashing it.
    """


class BigipAuthError(BigipError):
    """Credentials or token rejected (401) after a fresh login."""


class BigipRejected(BigipError):
    """The device refused the request; the same request will fail again."""


class BigipNotFound(BigipRejected):
    """404: the object (or its parent) does not exist."""


class BigipConflict(BigipRejected):
    """409: the object already exists."""


class BigipInUse(BigipRejected):
    """400 with an in-use code: the object is still referenced by another."""


class BigipRedirected(BigipRejected):
    """3xx: the adapter never follows a redirect, so the token, the password and the request
    body never reach another host. The message names the status and the Location."""
