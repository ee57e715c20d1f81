"""One error hierarchy for the whole pipeline.

Every error says what went wrong, with which file, and what the user can do about it.
The CLI, the flow and the API each translate these in exactly one place: each class carries
its exit code (``exit_code``, for the CLI) and its HTTP status (``http_status``, for the API).
"""

from __future__ import annotations

from enum import IntEnum
from typing import ClassVar

__all__ = [
    "ExitCode",
    "DossierError",
    "InputFileError",
    "EmptyFileError",
    "UnsupportedFormatError",
    "CorruptFileError",
    "EncryptedPdfError",
    "TooLargeError",
    "ImageTooLargeError",
    "TooManyPagesError",
    "OcrEngineError",
    "MissingDependencyError",
    "StorageError",
    "InvalidInputError",
    "NotFoundError",
    "DoctypeDefinitionError",
    "ConfigurationError",
    "ConflictError",
    "ReviewError",
    "PermissionDeniedError",
    "InvalidParameterError",
    "MalformedRequestError",
    "RecordSchemaError",
    "CalibrationError",
    "WeakPasswordError",
]


class ExitCode(IntEnum):
    ok = 0
    bad_args = 2
    input_file = 3
    some_files_failed = 4
    missing_dependency = 5
    ocr_engine = 6
    storage = 7
    not_found = 8
    configuration = 9
    conflict = 10
    invalid_request = 11
    permission = 12
    refused = 13  # a check refused to go on (a retrained scorer not precise enough)
    internal = 15


class DossierError(Exception):
    """Base of all errors the pipeline reports to a user."""

    exit_code: ExitCode = ExitCode.internal
    #: The API's answer: a 5xx says only that storage is down or that something failed.
    http_status: int = 500
    #: The ``kind`` an API answer names: the class's name unless the class names another.
    kind_name: ClassVar[str] = ""
    hint: str = ""

    def __init__(self, message: str, *, path: str | None = None, hint: str | None = None):
        self.message = message
        self.path = path
        if hint is not None:
            self.hint = hint
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        tail = f" ({self.hint})" if self.hint else ""
        return f"{where}{self.message}{tail}"

    @property
    def kind(self) -> str:
        return self.kind_name or type(self).__name__


class InputFileError(DossierError):
    """An input file cannot be digitized as it is; the rest of the batch goes on."""

    exit_code = ExitCode.input_file
    http_status = 422
    hint = "check the file, rescan it if needed, and ingest it again"


class EmptyFileError(InputFileError):
    hint = "the file has no content: rescan the page and upload it again"


class UnsupportedFormatError(InputFileError):
    hint = "upload JPEG, PNG, TIFF or PDF files"


class CorruptFileError(InputFileError):
    hint = "the file is damaged or truncated: rescan or re-export it and upload it again"


class TooLargeError(InputFileError):
    """A file over the per-file size limit, refused when it is uploaded."""

    http_status = 413
    hint = ("scan at a lower resolution or split the file, or ask the administrator to raise "
            "DOSSIER_MAX_FILE_BYTES")


class EncryptedPdfError(InputFileError):
    hint = (
        "the PDF is password-protected: remove the password first, "
        "e.g. `qpdf --decrypt --password=PASSWORD in.pdf out.pdf`, then ingest out.pdf"
    )


class ImageTooLargeError(InputFileError):
    hint = "scan at 300 dpi or less, or raise DOSSIER_MAX_IMAGE_PIXELS if the image is genuine"


class TooManyPagesError(InputFileError):
    hint = "split the file into smaller dossiers, or raise DOSSIER_MAX_PAGES"


class OcrEngineError(DossierError):
    exit_code = ExitCode.ocr_engine
    http_status = 500
    hint = "check that Tesseract and its vie/eng language data are installed (`make setup`)"


class MissingDependencyError(DossierError):
    exit_code = ExitCode.missing_dependency
    http_status = 500
    hint = "run `make setup` to install what is missing"


class StorageError(DossierError):
    exit_code = ExitCode.storage
    http_status = 503
    hint = "check the object store / database settings (DOSSIER_S3_ENDPOINT, DOSSIER_INDEX_URL)"


class InvalidInputError(DossierError):
    """A value the store refuses as it is (a NUL character, too long for its column): the
    request that brought it is at fault, not the store, and trying again will not help."""

    exit_code = ExitCode.invalid_request
    http_status = 400
    hint = "remove control characters and shorten the value, then send it again"


class NotFoundError(DossierError):
    exit_code = ExitCode.not_found
    http_status = 404
    hint = ""


class DoctypeDefinitionError(DossierError):
    exit_code = ExitCode.configuration
    http_status = 500
    hint = "fix the document-type definition file; the format is described in docs/doctypes.md"


class ConfigurationError(DossierError):
    exit_code = ExitCode.configuration
    http_status = 500
    hint = "check the DOSSIER_* settings"


class ConflictError(DossierError):
    """Someone else changed the thing first (a stale save, a document claimed by another)."""

    exit_code = ExitCode.conflict
    http_status = 409
    hint = "reload and try again"


class ReviewError(DossierError):
    """A review action that is not allowed in the record's state (e.g. approving with a field
    still unresolved, rejecting without a reason, an invalid corrected value)."""

    exit_code = ExitCode.invalid_request
    http_status = 422


class PermissionDeniedError(DossierError):
    exit_code = ExitCode.permission
    http_status = 403
    hint = "ask an administrator for the right role"


class InvalidParameterError(DossierError):
    """A query parameter, form field or path part that is not valid as sent (a citizen ID
    that is not 12 digits, a date that is not one, a cursor this API did not give out)."""

    exit_code = ExitCode.invalid_request
    http_status = 422
    kind_name = "InvalidRequest"  # as FastAPI's own validation answers say


class MalformedRequestError(InvalidParameterError):
    """A request the handler cannot take as sent (a body that is not the JSON it needs, a
    limit or cursor out of range), answered 400."""

    http_status = 400
    kind_name = "BadRequest"


class RecordSchemaError(DossierError, ValueError):
    """A stored record of a schema newer than this software (the message says to upgrade)."""

    exit_code = ExitCode.configuration


class CalibrationError(ConfigurationError, ValueError):
    """A calibration file (the field scorer) that does not fit this software's features (the
    message says how to retrain it)."""

    hint = ""


class WeakPasswordError(InvalidParameterError, ValueError):
    """A password too short to be set."""

    exit_code = ExitCode.bad_args
