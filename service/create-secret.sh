#!/usr/bin/env bash
#
# Creates (or updates) the secret "cf-extserver-config" of the extplugtest k8s deployment.
#
# The secret is used twice by the pods (service/k8s.yaml, service/k8s-single.yaml):
#   * keys -> environment variables (secretKeyRef):
#       kubectl_token                  KUBECTL_TOKEN                   "" = use the service-account token
#       kubectl_host                   KUBECTL_HOST                    k8s API host (kubernetes.default.svc)
#       kubectl_selector_label         KUBECTL_SELECTOR_LABEL          controller-revision-hash
#       kubectl_restore_selector_label KUBECTL_RESTORE_SELECTOR_LABEL  app (single-server restore)
#       dtls_cid_mgmt_identity         DTLS_CID_MGMT_IDENTITY          cid-cluster-manager
#       dtls_cid_mgmt_secret_base64    DTLS_CID_MGMT_SECRET_BASE64     random 32 bytes, base64
#       kubectl_selector               KUBECTL_SELECTOR                only if SELECTOR is set
#     kubectl_namespace and kubectl_node_id are not written: the namespace comes from the service
#     account, the node-id from the pod name suffix (one value for all pods would be wrong).
#   * the whole secret mounted at /etc/certs -> files read by the server:
#       https_server_cert.pem   private key + certificate chain of the /restore HTTPS service
#       https_server_trust.pem  trust anchors for the client certificates of /restore downloads
#       https_client_cert.pem   private key + certificate chain of the /restore download client
#       https_client_trust.pem  trust anchors for the certificate of the /restore service
#       https_k8s_client_trust.pem  only if K8S_API_TRUST is set (else the service-account ca.crt)
#
# Usage:
#   service/create-secret.sh            apply the secret to namespace $NAMESPACE with kubectl
#   service/create-secret.sh --print    print the Secret manifest (YAML) to stdout, no kubectl
#
# Environment (all optional):
#   NAMESPACE        target namespace (default: extplugtest)
#   KUBECTL          kubectl command, may contain words, e.g. "microk8s kubectl" (default: kubectl)
#   KUBECTL_CONTEXT  extra kubectl arguments, e.g. "--context=prod" or "--kubeconfig=..."
#   SECRET_NAME      name of the secret (default: cf-extserver-config)
#   PKI_DIR          directory of the demo PKI (default: resources/pki of this repository)
#   SERVER_CERT      base name of the server identity in PKI_DIR (default: cf-server)
#   CLIENT_CERT      base name of the client identity in PKI_DIR (default: cf-client)
#   TRUST_FILE       trust anchors for both sides (default: $PKI_DIR/cf-root.pem)
#   KUBECTL_SVC_HOST value of kubectl_host (default: kubernetes.default.svc; "<ip>": the cluster IP
#                    of the "kubernetes" service, looked up with kubectl)
#   SELECTOR_LABEL, RESTORE_SELECTOR_LABEL, MGMT_IDENTITY, SELECTOR   values of the keys above
#   K8S_API_TRUST    PEM file with trust anchors for the k8s API server
#   DTLS_CID_MGMT_SECRET_BASE64  management PSK; when unset the value of the existing secret is
#                    kept (changing it while pods run splits the cluster), else a random one
#
# Requires: bash, awk, base64, head, tr (and kubectl unless --print).
#
# Demo credentials only (resources/pki/README.md): the private keys are public.

set -euo pipefail
shopt -s inherit_errexit

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
ROOT_DIR=$(dirname -- "${SCRIPT_DIR}")

usage() {
	sed -n '3,/^$/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

die() {
	echo "create-secret: $*" >&2
	exit 1
}

# base64 without line breaks (GNU and BSD base64)
b64() {
	base64 | tr -d '\n'
}

# base64 of a file, with a final newline added when missing
b64_file() {
	awk 1 "$@" | b64
}

# private key + certificate chain of <base name> as one PEM
identity_pem() {
	local base=$1
	local key="${PKI_DIR}/${base}-key.pem"
	local chain="${PKI_DIR}/${base}-chain.pem"
	[[ -f "${chain}" ]] || chain="${PKI_DIR}/${base}.pem"
	[[ -f "${key}" ]] || die "missing private key ${key}"
	[[ -f "${chain}" ]] || die "missing certificate ${chain}"
	grep -q -- '-----BEGIN .*PRIVATE KEY-----' "${key}" || die "${key} holds no private key"
	grep -q -- '-----BEGIN CERTIFICATE-----' "${chain}" || die "${chain} holds no certificate"
	b64_file "${key}" "${chain}"
}

trust_pem() {
	[[ -f "${TRUST_FILE}" ]] || die "missing trust file ${TRUST_FILE}"
	grep -q -- '-----BEGIN CERTIFICATE-----' "${TRUST_FILE}" || die "${TRUST_FILE} holds no certificate"
	b64_file "${TRUST_FILE}"
}

kubectl_cmd() {
	local -a cmd ctx
	read -r -a cmd <<<"${KUBECTL:-kubectl}"
	read -r -a ctx <<<"${KUBECTL_CONTEXT:-}"
	"${cmd[@]}" "${ctx[@]}" "$@"
}

# the management PSK (base64 text): env, else the existing secret (not with --print), else random
mgmt_secret() {
	if [[ -n "${DTLS_CID_MGMT_SECRET_BASE64:-}" ]]; then
		printf '%s' "${DTLS_CID_MGMT_SECRET_BASE64}"
		return
	fi
	if [[ "${PRINT_ONLY}" != 1 ]]; then
		local existing
		existing=$(kubectl_cmd -n "${NAMESPACE}" get secret "${SECRET_NAME}" --ignore-not-found \
			-o 'jsonpath={.data.dtls_cid_mgmt_secret_base64}')
		if [[ -n "${existing}" ]]; then
			echo "create-secret: keeping the management secret of the existing ${SECRET_NAME}" >&2
			printf '%s' "${existing}" | base64 -d
			return
		fi
	fi
	head -c 32 /dev/urandom | b64
}

kubectl_host() {
	local host=${KUBECTL_SVC_HOST:-kubernetes.default.svc}
	if [[ "${host}" == "<ip>" ]]; then
		host=$(kubectl_cmd get svc kubernetes -n default -o 'jsonpath={.spec.clusterIP}')
	fi
	printf '%s' "${host}"
}

# Secret manifest on stdout; values are base64 encoded ("data"), an empty value stays "".
# Every value is computed before the output starts, so that an error ends the script.
render_secret() {
	local secret host server_cert client_cert trust selector="" api_trust=""
	secret=$(mgmt_secret)
	[[ -n "${secret}" ]] || die "empty management secret"
	host=$(kubectl_host)
	[[ -n "${host}" ]] || die "empty k8s API host"
	server_cert=$(identity_pem "${SERVER_CERT:-cf-server}")
	client_cert=$(identity_pem "${CLIENT_CERT:-cf-client}")
	trust=$(trust_pem)
	if [[ -n "${SELECTOR:-}" ]]; then
		selector=$(printf '%s' "${SELECTOR}" | b64)
	fi
	if [[ -n "${K8S_API_TRUST:-}" ]]; then
		[[ -f "${K8S_API_TRUST}" ]] || die "missing K8S_API_TRUST file ${K8S_API_TRUST}"
		api_trust=$(b64_file "${K8S_API_TRUST}")
	fi
	cat <<-YAML
		apiVersion: v1
		kind: Secret
		metadata:
		  name: ${SECRET_NAME}
		  labels:
		    app: cf-extserver
		type: Opaque
		data:
		  kubectl_token: ""
		  kubectl_host: $(printf '%s' "${host}" | b64)
		  kubectl_selector_label: $(printf '%s' "${SELECTOR_LABEL:-controller-revision-hash}" | b64)
		  kubectl_restore_selector_label: $(printf '%s' "${RESTORE_SELECTOR_LABEL:-app}" | b64)
		  dtls_cid_mgmt_identity: $(printf '%s' "${MGMT_IDENTITY:-cid-cluster-manager}" | b64)
		  dtls_cid_mgmt_secret_base64: $(printf '%s' "${secret}" | b64)
		  https_server_cert.pem: ${server_cert}
		  https_server_trust.pem: ${trust}
		  https_client_cert.pem: ${client_cert}
		  https_client_trust.pem: ${trust}
	YAML
	if [[ -n "${selector}" ]]; then
		echo "  kubectl_selector: ${selector}"
	fi
	if [[ -n "${api_trust}" ]]; then
		echo "  https_k8s_client_trust.pem: ${api_trust}"
	fi
}

main() {
	PRINT_ONLY=0
	case "${1:-}" in
	--print) PRINT_ONLY=1 ;;
	"") ;;
	-h | --help | help)
		usage
		return 0
		;;
	*)
		usage >&2
		return 2
		;;
	esac
	NAMESPACE=${NAMESPACE:-extplugtest}
	SECRET_NAME=${SECRET_NAME:-cf-extserver-config}
	PKI_DIR=${PKI_DIR:-${ROOT_DIR}/resources/pki}
	TRUST_FILE=${TRUST_FILE:-${PKI_DIR}/cf-root.pem}

	local manifest
	manifest=$(render_secret)
	if [[ "${PRINT_ONLY}" == 1 ]]; then
		printf '%s\n' "${manifest}"
	else
		printf '%s\n' "${manifest}" | kubectl_cmd -n "${NAMESPACE}" apply -f -
		echo "create-secret: ${SECRET_NAME} applied to namespace ${NAMESPACE}" >&2
	fi
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
	main "$@"
fi
