package keyvault

import (
	"fmt"
	"net/http"
)

// kvError is a Key Vault error answer: {"error":{"code","message","innererror"?}}.
type kvError struct {
	status  int
	code    string
	message string
	inner   string // innererror.code, if any
}

func (e *kvError) Error() string {
	if e.inner != "" {
		return fmt.Sprintf("%d %s (%s): %s", e.status, e.code, e.inner, e.message)
	}
	return fmt.Sprintf("%d %s: %s", e.status, e.code, e.message)
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code       string      `json:"code"`
	Message    string      `json:"message"`
	InnerError *innerError `json:"innererror,omitempty"`
}

type innerError struct {
	Code string `json:"code"`
}

func (e *kvError) body() errorBody {
	b := errorBody{Error: errorDetail{Code: e.code, Message: e.message}}
	if e.inner != "" {
		b.Error.InnerError = &innerError{Code: e.inner}
	}
	return b
}

func badParameter(msg string) *kvError {
	return &kvError{status: http.StatusBadRequest, code: "BadParameter", message: msg}
}

func unauthorized(msg string) *kvError {
	return &kvError{status: http.StatusUnauthorized, code: "Unauthorized", message: msg}
}

// secretNotFound is the 404 recorded from Key Vault for a missing secret or version.
func secretNotFound(nameOrID string) *kvError {
	return &kvError{status: http.StatusNotFound, code: "SecretNotFound", message: fmt.Sprintf(
		"A secret with (name/id) %s was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182",
		nameOrID)}
}

// deletedSecretNotFound is the 404 recorded from Key Vault for a missing deleted secret.
func deletedSecretNotFound(name string) *kvError {
	return &kvError{status: http.StatusNotFound, code: "SecretNotFound", message: "Deleted Secret not found: " + name}
}

func secretDisabled() *kvError {
	return &kvError{status: http.StatusForbidden, code: "Forbidden",
		message: "Operation get is not allowed on a disabled secret.", inner: "SecretDisabled"}
}

func deletedButRecoverable(name string) *kvError {
	return &kvError{status: http.StatusConflict, code: "Conflict", inner: "ObjectIsDeletedButRecoverable", message: fmt.Sprintf(
		"Secret %s is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged.", name)}
}

func beingDeleted(name string) *kvError {
	return &kvError{status: http.StatusConflict, code: "Conflict", inner: "ObjectIsBeingDeleted",
		message: fmt.Sprintf("Secret %s is currently being deleted.", name)}
}

// parallelConflict: "You're requesting multiple operations on the same item" (Key Vault common
// error codes, ConflictError).
func parallelConflict(name string) *kvError {
	return &kvError{status: http.StatusConflict, code: "Conflict", message: fmt.Sprintf(
		"There was a conflict while processing secret %s: another operation on this secret is in progress. Perform operations against a secret in a sequential manner.", name)}
}

// restoreConflict is the 409 recorded from Key Vault when the restored name is in use.
func restoreConflict(id string) *kvError {
	return &kvError{status: http.StatusConflict, code: "Conflict", message: fmt.Sprintf(
		"There was a conflict restoring the secret '%s'. This can happen if either: a second secret with the same name was created after the first secret was deleted; thus trying to restore a secret whose name is already in use. To fix this, rename the second secret to something else so that the restore works. The second probable cause of this exception is when multiple operations are performed in parallel against the secret. To avoid this error, perform operations against a secret in a sequential manner.",
		id)}
}

func purgeProtected() *kvError {
	return &kvError{status: http.StatusForbidden, code: "Forbidden", message: "Operation \"purge\" is not allowed because purge protection is enabled for this vault. Key Vault service will automatically purge it after the retention period has passed."}
}

// keyNotFound is the 404 recorded from Key Vault for a missing key or key version.
func keyNotFound(nameOrID string) *kvError {
	return &kvError{status: http.StatusNotFound, code: "KeyNotFound", message: fmt.Sprintf(
		"A key with (name/id) %s was not found in this key vault. If you recently deleted this key you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182",
		nameOrID)}
}

// keyOperationForbidden is Key Vault's answer to an operation the key's key_ops do not list
// (Azure/azure-sdk-for-net#11518).
func keyOperationForbidden(op string) *kvError {
	return &kvError{status: http.StatusForbidden, code: "Forbidden", inner: "KeyOperationForbidden",
		message: fmt.Sprintf("Operation %s is not permitted on this key.", op)}
}

// keyDisabled answers a cryptographic operation on a disabled key, shaped like Key Vault's
// answer for a disabled secret (SecretDisabled).
func keyDisabled(op string) *kvError {
	return &kvError{status: http.StatusForbidden, code: "Forbidden", inner: "KeyDisabled",
		message: fmt.Sprintf("Operation %s is not allowed on a disabled key.", op)}
}

// notSimulated answers what the simulator does not reproduce.
func notSimulated(msg string) *kvError {
	return &kvError{status: http.StatusNotImplemented, code: "NotImplemented", message: msg}
}
