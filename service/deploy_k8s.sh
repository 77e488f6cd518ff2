#!/usr/bin/env bash
#
# Build, deploy and update the extplugtest server on k8s (service/README.md walks through it).
#
# Usage: service/deploy_k8s.sh <command> [argument]
#
# Commands:
#   install            create the namespace (if missing), the secret (if missing), build and push the
#                      image, apply the Service, the RBAC rules and StatefulSet cf-extserver-a
#                      (K8S_MODE=single: the Deployment cf-extserver), wait until all pods are ready
#   update0 [build]    blue/green update with a new image (cluster.md §10): check that all current
#                      pods are ready, label them restore=true, create the other StatefulSet (a <-> b)
#                      with the new image, the same number of replicas and initialDtlsClusterNodes,
#                      wait until the new pods are ready (they download the DTLS connections of
#                      their doubles through /restore), delete the old StatefulSet.
#                      K8S_MODE=single: label the pod restore=true and roll the Deployment.
#                      [build]: build number of the image (default: last one + 1, see BUILD_FILE)
#   build [build]      only build and push the image; prints the image reference
#   secret             create/update the secret cf-extserver-config (service/create-secret.sh)
#   status             StatefulSets, Deployment, pods (with their labels) and the Service
#   probe              /ready and /alive of every pod (kubectl exec)
#   logs               the last log lines of every pod
#   render a|b|cluster|single
#                      print the manifest that would be applied (no cluster access when REPLICAS
#                      and IMAGE_REF are set): a|b = the StatefulSet cf-extserver-a|b,
#                      cluster = k8s.yaml as "install" applies it, single = k8s-single.yaml
#   uninstall          delete StatefulSets, Deployment, Service, RBAC rules and (unless
#                      KEEP_SECRET=1) the secret; the namespace stays
#   help               this text
#
# Environment (all optional):
#   NAMESPACE       namespace (default: extplugtest)
#   K8S_MODE        cluster (StatefulSets, k8s.yaml) or single (Deployment, k8s-single.yaml);
#                   default: cluster
#   KUBECTL         kubectl command, may contain words, e.g. "microk8s kubectl" (default: kubectl)
#   KUBECTL_CONTEXT extra kubectl arguments, e.g. "--context=prod" or "--kubeconfig=/path"
#   DOCKER          container build tool with docker's CLI (default: docker; e.g. podman)
#   REGISTRY        image registry (default: localhost:32000, the registry add-on of microk8s)
#   IMAGE           image name (default: extplugtest)
#   CF_VERSION      version part of the tag (default: "version" of package.json)
#   BUILD_NUMBER    build number (install: 0; update0/build: last one + 1)
#   TAG             image tag (default: <CF_VERSION>-<BUILD_NUMBER>)
#   BUILD_FILE      file keeping the last build number (default: service/.build-number)
#   NODE_IMAGE      base image, passed as build argument (default of the Dockerfile:
#                   node:20-bookworm-slim)
#   PUSH            1: push the image and deploy it by digest (default); 0: no push, deploy the tag
#   IMAGE_REF       deploy this image reference, no build (e.g. registry/extplugtest@sha256:...)
#   REPLICAS        number of pods; install: number of schedulable nodes; update0: the number
#                   of the current StatefulSet
#   WAIT_TIMEOUT    seconds to wait for ready pods (default: 600)
#   OLD_DOWN_TIMEOUT seconds update0 waits for the old pods to report not ready (default: 60)
#   KEEP_SECRET     uninstall: 1 = keep the secret
#   Variables of service/create-secret.sh (PKI_DIR, KUBECTL_SVC_HOST, ...) are passed through.
#
# Requires: bash >= 4.4, kubectl, sed, awk; docker (or DOCKER) unless IMAGE_REF is given.

set -euo pipefail
shopt -s inherit_errexit

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
ROOT_DIR=$(dirname -- "${SCRIPT_DIR}")

readonly APP=cf-extserver
readonly SET_PREFIX=cf-extserver-
readonly DEPLOYMENT=cf-extserver
readonly CONTAINER=cf-extserver

usage() {
	sed -n '3,/^$/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

log() {
	printf '[deploy_k8s %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2
}

die() {
	log "ERROR: $*"
	exit 1
}

# "version" of package.json
package_version() {
	sed -n -E '/"version"[[:space:]]*:/{s/.*"version"[[:space:]]*:[[:space:]]*"([^"]*)".*/\1/p;q;}' \
		"${ROOT_DIR}/package.json"
}

# Reads the environment; called by every command, never on load.
load_config() {
	NAMESPACE=${NAMESPACE:-extplugtest}
	K8S_MODE=${K8S_MODE:-cluster}
	case "${K8S_MODE}" in
	cluster | single) ;;
	*) die "K8S_MODE must be cluster or single, not '${K8S_MODE}'" ;;
	esac
	read -r -a KUBECTL_CMD <<<"${KUBECTL:-kubectl}"
	read -r -a KUBECTL_CTX <<<"${KUBECTL_CONTEXT:-}"
	read -r -a DOCKER_CMD <<<"${DOCKER:-docker}"
	REGISTRY=${REGISTRY-localhost:32000}
	IMAGE=${IMAGE:-extplugtest}
	CF_VERSION=${CF_VERSION:-$(package_version)}
	[[ -n "${CF_VERSION}" ]] || die "no CF_VERSION and no version in package.json"
	BUILD_FILE=${BUILD_FILE:-${SCRIPT_DIR}/.build-number}
	PUSH=${PUSH:-1}
	IMAGE_REF=${IMAGE_REF:-}
	REPLICAS=${REPLICAS:-}
	WAIT_TIMEOUT=${WAIT_TIMEOUT:-600}
	OLD_DOWN_TIMEOUT=${OLD_DOWN_TIMEOUT:-60}
	CLUSTER_MANIFEST=${SCRIPT_DIR}/k8s.yaml
	SINGLE_MANIFEST=${SCRIPT_DIR}/k8s-single.yaml
	if [[ -n "${REPLICAS}" ]] && ! [[ "${REPLICAS}" =~ ^[1-9][0-9]*$ ]]; then
		die "REPLICAS must be a positive number, not '${REPLICAS}'"
	fi
}

# ---- kubectl helpers -----------------------------------------------------------------------------

kc() {
	"${KUBECTL_CMD[@]}" ${KUBECTL_CTX[@]+"${KUBECTL_CTX[@]}"} "$@"
}

# kubectl in the namespace
k() {
	kc -n "${NAMESPACE}" "$@"
}

require_kubectl() {
	command -v "${KUBECTL_CMD[0]}" >/dev/null || die "'${KUBECTL_CMD[0]}' not found (set KUBECTL)"
}

# jsonpath value of an object, empty if the object or the field does not exist; e.g.
#   field statefulset cf-extserver-a '{.spec.replicas}'
field() {
	k get "$1" "$2" --ignore-not-found -o "jsonpath=$3"
}

exists() {
	[[ -n "$(k get "$1" "$2" --ignore-not-found -o name)" ]]
}

# desired replicas (0 when missing)
spec_replicas() {
	local n
	n=$(field "$1" "$2" '{.spec.replicas}')
	echo "${n:-0}"
}

# ready replicas (0 when missing; k8s omits the field at 0)
ready_replicas() {
	local n
	n=$(field "$1" "$2" '{.status.readyReplicas}')
	echo "${n:-0}"
}

# true when the object exists, wants at least one pod and all of them are ready
all_ready() {
	local want ready
	want=$(spec_replicas "$1" "$2")
	ready=$(ready_replicas "$1" "$2")
	log "$1/$2: ${ready} of ${want} ready"
	((want > 0 && ready >= want))
}

# waits until <kind> <name> reports <count> ready pods; false on timeout
wait_ready() {
	local kind=$1 name=$2 count=$3 timeout=$4 start=${SECONDS} ready
	while :; do
		ready=$(ready_replicas "${kind}" "${name}")
		log "$((SECONDS - start)) s: ${kind}/${name} ${ready} of ${count} ready"
		((ready >= count)) && return 0
		((SECONDS - start < timeout)) || return 1
		sleep 2
	done
}

# waits until <kind> <name> reports no ready pod; false on timeout
wait_not_ready() {
	local kind=$1 name=$2 timeout=$3 start=${SECONDS} ready
	while :; do
		ready=$(ready_replicas "${kind}" "${name}")
		log "$((SECONDS - start)) s: ${kind}/${name} still ${ready} ready"
		((ready == 0)) && return 0
		((SECONDS - start < timeout)) || return 1
		sleep 2
	done
}

# nodes without NoSchedule taints that are not cordoned
schedulable_nodes() {
	kc get nodes -o 'jsonpath={range .items[*]}{.metadata.name} {.spec.unschedulable} {.spec.taints[*].effect}{"\n"}{end}' |
		awk 'NF && $0 !~ /true|NoSchedule/ { n++ } END { print n + 0 }'
}

ensure_namespace() {
	if [[ -z "$(kc get namespace "${NAMESPACE}" --ignore-not-found -o name)" ]]; then
		log "creating namespace ${NAMESPACE}"
		kc create namespace "${NAMESPACE}"
	fi
}

run_create_secret() {
	NAMESPACE=${NAMESPACE} KUBECTL=${KUBECTL:-kubectl} KUBECTL_CONTEXT=${KUBECTL_CONTEXT:-} \
		"${SCRIPT_DIR}/create-secret.sh"
}

ensure_secret() {
	if exists secret cf-extserver-config; then
		log "secret cf-extserver-config exists, kept (\"$0 secret\" updates it)"
	else
		run_create_secret
	fi
}

# ---- image ---------------------------------------------------------------------------------------

# build number: argument, else BUILD_NUMBER, else <default> ("next": last one + 1)
resolve_build_number() {
	local given=$1 default=$2 last
	if [[ -n "${given}" ]]; then
		BUILD_NUMBER=${given}
	elif [[ -n "${BUILD_NUMBER:-}" ]]; then
		:
	elif [[ "${default}" == next ]]; then
		last=$(tail -n 1 "${BUILD_FILE}" 2>/dev/null || true)
		[[ "${last}" =~ ^[0-9]+$ ]] || last=0
		BUILD_NUMBER=$((last + 1))
	else
		BUILD_NUMBER=${default}
	fi
	[[ "${BUILD_NUMBER}" =~ ^[0-9]+$ ]] || die "build number must be a number, not '${BUILD_NUMBER}'"
}

image_tag() {
	echo "${TAG:-${CF_VERSION}-${BUILD_NUMBER:-0}}"
}

# registry/name:tag
image_name() {
	echo "${REGISTRY:+${REGISTRY}/}${IMAGE}:$(image_tag)"
}

# Builds (and pushes) the image unless IMAGE_REF is set; sets IMAGE_REF (the digest after a push).
build_image() {
	if [[ -n "${IMAGE_REF}" ]]; then
		log "using image ${IMAGE_REF} (IMAGE_REF, no build)"
		return
	fi
	command -v "${DOCKER_CMD[0]}" >/dev/null || die "'${DOCKER_CMD[0]}' not found (set DOCKER or IMAGE_REF)"
	local name digest
	local -a args=(build -f "${SCRIPT_DIR}/Dockerfile" --build-arg "BUILD_NUMBER=${BUILD_NUMBER}")
	if [[ -n "${NODE_IMAGE:-}" ]]; then
		args+=(--build-arg "NODE_IMAGE=${NODE_IMAGE}")
	fi
	name=$(image_name)
	log "building ${name}"
	"${DOCKER_CMD[@]}" "${args[@]}" -t "${name}" "${ROOT_DIR}"
	echo "${BUILD_NUMBER}" >"${BUILD_FILE}"
	if [[ "${PUSH}" != 1 ]]; then
		IMAGE_REF=${name}
		log "not pushed (PUSH=${PUSH}), deploying ${IMAGE_REF}"
		return
	fi
	"${DOCKER_CMD[@]}" push "${name}"
	# deploy by digest: immutable, and the nodes do not reuse a cached image of the same tag
	digest=$("${DOCKER_CMD[@]}" image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "${name}" |
		awk -v prefix="${name%:*}@" 'index($0, prefix) == 1 { print; exit }')
	IMAGE_REF=${digest:-${name}}
	log "image ${IMAGE_REF}"
}

# ---- manifests -----------------------------------------------------------------------------------

# the documents of a multi-document YAML file with "kind: <kind>" (top level)
select_kind() {
	awk -v kind="$2" '
		function flush() { if (match_kind) printf "---\n%s", doc; doc = ""; match_kind = 0 }
		/^---[ \t]*$/ { flush(); next }
		{ doc = doc $0 "\n" }
		$1 == "kind:" && $2 == kind && NF == 2 { match_kind = 1 }
		END { flush() }
	' "$1"
}

# Applies set name, replicas, initialDtlsClusterNodes and image to a manifest on stdin.
#   substitute <a|b|-> <replicas|""> <image|"">
substitute() {
	local color=$1 replicas=$2 image=$3
	local -a expr=()
	if [[ "${color}" != - ]]; then
		expr+=(-e "s/(${SET_PREFIX})a([^[:alnum:]-]|$)/\\1${color}\\2/g")
	fi
	if [[ -n "${replicas}" ]]; then
		expr+=(-e "s/^([[:space:]]*replicas:)[[:space:]]*[0-9]+/\\1 ${replicas}/")
		expr+=(-e "s/^([[:space:]]*initialDtlsClusterNodes:).*/\\1 \"${replicas}\"/")
	fi
	if [[ -n "${image}" ]]; then
		[[ "${image}" =~ ^[A-Za-z0-9._:/@-]+$ ]] || die "invalid image reference '${image}'"
		expr+=(-e "s|^([[:space:]]*image:).*|\\1 ${image}|")
	fi
	if ((${#expr[@]} == 0)); then
		cat
	else
		sed -E "${expr[@]}"
	fi
}

# render <a|b|cluster|single>; uses REPLICAS and IMAGE_REF when set
render() {
	local what=${1:-} image=${IMAGE_REF:-}
	[[ -n "${image}" ]] || image=$(image_name)
	case "${what}" in
	a | b) select_kind "${CLUSTER_MANIFEST}" StatefulSet | substitute "${what}" "${REPLICAS}" "${image}" ;;
	cluster) substitute a "${REPLICAS}" "${image}" <"${CLUSTER_MANIFEST}" ;;
	single) substitute - "" "${image}" <"${SINGLE_MANIFEST}" ;;
	*) die "render: a, b, cluster or single expected, not '${what}'" ;;
	esac
}

# ---- commands ------------------------------------------------------------------------------------

cmd_install() {
	require_kubectl
	resolve_build_number "${1:-}" 0
	ensure_namespace
	if exists statefulset "${SET_PREFIX}a" || exists statefulset "${SET_PREFIX}b" || exists deployment "${DEPLOYMENT}"; then
		die "already installed in ${NAMESPACE} (use update0, or uninstall first)"
	fi
	if [[ "${K8S_MODE}" == cluster && -z "${REPLICAS}" ]]; then
		REPLICAS=$(schedulable_nodes)
		((REPLICAS > 0)) || die "no schedulable node found (set REPLICAS)"
		log "${REPLICAS} schedulable nodes: ${REPLICAS} replicas"
	fi
	ensure_secret
	build_image
	if [[ "${K8S_MODE}" == cluster ]]; then
		render cluster | k apply -f -
		wait_ready statefulset "${SET_PREFIX}a" "${REPLICAS}" "${WAIT_TIMEOUT}" ||
			die "not all pods ready after ${WAIT_TIMEOUT} s (\"$0 status\", \"$0 logs\")"
	else
		render single | k apply -f -
		k rollout status "deployment/${DEPLOYMENT}" --timeout="${WAIT_TIMEOUT}s"
	fi
	log "installed ${IMAGE_REF:-$(image_name)} in namespace ${NAMESPACE}"
}

cmd_update0_cluster() {
	local old=a new=b count start=${SECONDS}
	if ! all_ready statefulset "${SET_PREFIX}${old}"; then
		old=b
		new=a
		all_ready statefulset "${SET_PREFIX}${old}" ||
			die "neither ${SET_PREFIX}a nor ${SET_PREFIX}b has all pods ready, update cancelled"
	fi
	count=${REPLICAS:-$(spec_replicas statefulset "${SET_PREFIX}${old}")}
	log "update ${SET_PREFIX}${old} -> ${SET_PREFIX}${new}, ${count} replicas"
	build_image
	# a left-over of an interrupted update
	k delete statefulset "${SET_PREFIX}${new}" --ignore-not-found --wait=true
	# the old pods serve /restore; a restarted old pod sees the label and does not restore itself
	k label pods -l "statefulset=${SET_PREFIX}${old}" restore=true --overwrite
	REPLICAS=${count}
	render "${new}" | k apply -f -
	if ! wait_ready statefulset "${SET_PREFIX}${new}" "${count}" "${WAIT_TIMEOUT}"; then
		die "${SET_PREFIX}${new} not ready after ${WAIT_TIMEOUT} s; ${SET_PREFIX}${old} is kept." \
			"Inspect with \"$0 status\" / \"$0 logs\"; to give up: kubectl -n ${NAMESPACE} delete statefulset" \
			"${SET_PREFIX}${new} && kubectl -n ${NAMESPACE} label pods -l statefulset=${SET_PREFIX}${old} restore-" \
			"(pods of ${SET_PREFIX}${old} that already handed over their connections must be deleted to restart)"
	fi
	# the old pods report DOWN 4 s after their /restore download
	wait_not_ready statefulset "${SET_PREFIX}${old}" "${OLD_DOWN_TIMEOUT}" ||
		log "some pods of ${SET_PREFIX}${old} still report ready (no restore from them?), deleting anyway"
	k delete statefulset "${SET_PREFIX}${old}" --wait=false
	log "$((SECONDS - start)) s: ${SET_PREFIX}${new} updated to ${IMAGE_REF}"
}

cmd_update0_single() {
	local current
	all_ready deployment "${DEPLOYMENT}" || die "deployment ${DEPLOYMENT} not ready, update cancelled"
	build_image
	current=$(field deployment "${DEPLOYMENT}" '{.spec.template.spec.containers[0].image}')
	[[ "${current}" != "${IMAGE_REF}" ]] || die "deployment ${DEPLOYMENT} already runs ${IMAGE_REF}"
	k label pods -l "app=${APP}" restore=true --overwrite
	k set image "deployment/${DEPLOYMENT}" "${CONTAINER}=${IMAGE_REF}"
	k rollout status "deployment/${DEPLOYMENT}" --timeout="${WAIT_TIMEOUT}s"
	log "deployment ${DEPLOYMENT} updated to ${IMAGE_REF}"
}

cmd_update0() {
	require_kubectl
	resolve_build_number "${1:-}" next
	if [[ "${K8S_MODE}" == cluster ]]; then
		cmd_update0_cluster
	else
		cmd_update0_single
	fi
}

cmd_build() {
	resolve_build_number "${1:-}" next
	IMAGE_REF=
	build_image
	echo "${IMAGE_REF}"
}

cmd_status() {
	require_kubectl
	k get statefulsets,deployments -l "app=${APP}" -o wide
	k get pods -l "app=${APP}" -o wide -L statefulset,initialDtlsClusterNodes,restore
	k get service "${APP}" -o wide
}

cmd_probe() {
	require_kubectl
	local pod
	local script="Promise.all(['/ready','/alive'].map((p) => fetch('http://127.0.0.1:8080' + p)"
	script+=".then(async (r) => p + ' ' + r.status + ' ' + (await r.text()).trim(), (e) => p + ' ' + e.message)))"
	script+=".then((l) => console.log(l.join(', ')))"
	for pod in $(k get pods -l "app=${APP}" -o 'jsonpath={.items[*].metadata.name}'); do
		printf '%s: ' "${pod}"
		k exec "${pod}" -c "${CONTAINER}" -- node -e "${script}" || echo "(exec failed)"
	done
}

cmd_logs() {
	require_kubectl
	k logs -l "app=${APP}" -c "${CONTAINER}" --prefix --tail="${TAIL:-50}"
}

cmd_uninstall() {
	require_kubectl
	k delete statefulset "${SET_PREFIX}a" "${SET_PREFIX}b" --ignore-not-found
	k delete deployment "${DEPLOYMENT}" --ignore-not-found
	k delete service "${APP}" --ignore-not-found
	k delete rolebinding cf-extserver-pod-reader --ignore-not-found
	k delete role cf-extserver-pod-reader --ignore-not-found
	if [[ "${KEEP_SECRET:-0}" != 1 ]]; then
		k delete secret cf-extserver-config --ignore-not-found
	fi
	log "uninstalled from ${NAMESPACE} (namespace kept)"
}

main() {
	local cmd=${1:-help}
	[[ $# -eq 0 ]] || shift
	case "${cmd}" in
	install)
		load_config
		cmd_install "$@"
		;;
	update0)
		load_config
		cmd_update0 "$@"
		;;
	build)
		load_config
		cmd_build "$@"
		;;
	secret)
		load_config
		require_kubectl
		ensure_namespace
		run_create_secret
		;;
	status)
		load_config
		cmd_status
		;;
	probe)
		load_config
		cmd_probe
		;;
	logs)
		load_config
		cmd_logs
		;;
	render)
		load_config
		render "$@"
		;;
	uninstall)
		load_config
		cmd_uninstall
		;;
	help | -h | --help)
		usage
		;;
	*)
		usage >&2
		log "unknown command '${cmd}'"
		return 2
		;;
	esac
}

# run only when executed, not when sourced
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
	main "$@"
fi
