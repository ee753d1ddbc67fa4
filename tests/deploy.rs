//! deploy/: rendered with the real renderer, `kubectl kustomize` (what `kubectl apply -k` runs;
//! `.ci/run` provides a kubectl with kustomize v5 and sets QUORATE_REQUIRE_KUSTOMIZE), then
//! checked: the rendered objects validate against the Kubernetes schemas with the real
//! `kubernetes-validate` (QUORATE_K8S_VALIDATE), the one `namespace:` line renames every
//! reference to the namespace (and a missing replacement would be caught), the base holds no
//! webhook configuration and the overlay adds it with the opt-out label, and the objects say
//! what the webhook needs: the scale subresources, pod deletes and evictions, v1 reviews, a
//! timeout above quorate's own request timeout, probes, non-root replicas, read-only RBAC.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use quorate::error::Stage;
use quorate::text::{parse_yaml, SourceText};
use serde_json::{json, Value};

const NS: &str = "quorate";
const RENAMED: &str = "guard-system";
const IMAGE: &str = "ghcr.io/quorate-dev/quorate";
/// The oldest Kubernetes the webhook configuration works on (matchConditions: beta, on by
/// default, in 1.28) and the newest kubernetes-validate 1.37.0 knows.
const K8S_VERSIONS: [&str; 2] = ["1.28.0", "1.37.0"];
/// Kinds with no built-in schema: cert-manager's and prometheus-operator's.
const CUSTOM_KINDS: [&str; 3] = ["Issuer", "Certificate", "ServiceMonitor"];

fn deploy() -> PathBuf {
    common::root().join("deploy")
}

fn kubectl() -> String {
    std::env::var("QUORATE_KUBECTL").unwrap_or_else(|_| "kubectl".into())
}

/// kubectl sealed from the machine: no kubeconfig, no ~/.kube cache (rendering needs neither).
fn run_kubectl(args: &[&std::ffi::OsStr]) -> std::io::Result<Output> {
    let home = std::env::temp_dir().join("quorate-test-home");
    let _ = std::fs::create_dir_all(&home);
    Command::new(kubectl())
        .args(args)
        .env("HOME", &home)
        .env("KUBECONFIG", home.join("no-kubeconfig"))
        .output()
}

/// Whether a kubectl with kustomize v5 (replacements with delimiters, resources from
/// directories) is here; without one the tests skip, or fail under QUORATE_REQUIRE_KUSTOMIZE.
fn renderer() -> bool {
    static READY: OnceLock<Result<String, String>> = OnceLock::new();
    let ready = READY.get_or_init(|| {
        let out = run_kubectl(&["version".as_ref(), "--client".as_ref()])
            .map_err(|e| format!("{} cannot run: {e}", kubectl()))?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let major = text
            .lines()
            .find_map(|l| l.strip_prefix("Kustomize Version: v"))
            .and_then(|v| v.split('.').next())
            .and_then(|m| m.parse::<u32>().ok());
        match major {
            Some(m) if m >= 5 => Ok(text),
            _ => Err(format!("{} has no kustomize v5: {text}", kubectl())),
        }
    });
    match ready {
        Ok(_) => true,
        Err(why) => {
            assert!(
                std::env::var_os("QUORATE_REQUIRE_KUSTOMIZE").is_none(),
                "kubectl with kustomize v5 is required here (see .ci/run): {why}"
            );
            eprintln!("deploy/ not rendered, the test is skipped: {why}");
            false
        }
    }
}

/// `kubectl kustomize DIR`, as text.
fn render_text(dir: &Path) -> String {
    let out = run_kubectl(&["kustomize".as_ref(), dir.as_os_str()]).unwrap();
    assert!(
        out.status.success(),
        "kubectl kustomize {}:\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn parse(name: &str, text: &str) -> Vec<Value> {
    let src = SourceText::new(name, text);
    parse_yaml(&src, Stage::Input)
        .unwrap()
        .into_iter()
        .map(|d| d.value)
        .collect()
}

/// The objects `kubectl kustomize DIR` renders.
fn render(dir: &Path) -> Vec<Value> {
    parse(&dir.display().to_string(), &render_text(dir))
}

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} rendered"))
}

fn label(doc: &Value) -> String {
    format!(
        "{}/{}",
        doc["kind"].as_str().unwrap_or("?"),
        doc["metadata"]["name"].as_str().unwrap_or("?")
    )
}

fn is_custom(doc: &Value) -> bool {
    CUSTOM_KINDS.contains(&doc["kind"].as_str().unwrap_or(""))
}

fn strings<'a>(v: &'a Value, pointer: String, out: &mut Vec<(String, &'a str)>) {
    match v {
        Value::String(s) => out.push((pointer, s)),
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                strings(x, format!("{pointer}/{i}"), out);
            }
        }
        Value::Object(m) => {
            for (k, x) in m {
                let k = k.replace('~', "~0").replace('/', "~1");
                strings(x, format!("{pointer}/{k}"), out);
            }
        }
        _ => {}
    }
}

/// Every string in `docs` where `ns` stands for a namespace: the value of a `namespace` field
/// or of anything under a namespace selector, a Namespace's name, `ns/<name>` (cert-manager's
/// inject-ca-from), `<service>.ns.svc[...]` (DNS names), `system:serviceaccount:ns:<name>`.
/// Each as (index of the object, JSON pointer, value).
fn namespace_refs(docs: &[Value], ns: &str) -> Vec<(usize, String, String)> {
    let mut refs = Vec::new();
    for (i, doc) in docs.iter().enumerate() {
        let mut all = Vec::new();
        strings(doc, String::new(), &mut all);
        for (pointer, s) in all {
            let in_namespace_field = pointer
                .split('/')
                .any(|seg| seg.to_ascii_lowercase().contains("namespace"));
            let is_ref = (s == ns
                && (in_namespace_field
                    || (doc["kind"] == "Namespace" && pointer == "/metadata/name")))
                || s.starts_with(&format!("{ns}/"))
                || s.contains(&format!(".{ns}.svc"))
                || s.contains(&format!("system:serviceaccount:{ns}:"));
            if is_ref {
                refs.push((i, pointer, s.to_string()));
            }
        }
    }
    refs
}

/// A reference found by [`namespace_refs`], pointing at `to` instead of `from`.
fn renamed_ref(s: &str, from: &str, to: &str) -> String {
    if s == from {
        return to.to_string();
    }
    if let Some(rest) = s.strip_prefix(&format!("{from}/")) {
        return format!("{to}/{rest}");
    }
    s.replace(&format!(".{from}.svc"), &format!(".{to}.svc"))
        .replace(
            &format!("system:serviceaccount:{from}:"),
            &format!("system:serviceaccount:{to}:"),
        )
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

fn kustomizations(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(kustomizations(&p));
        } else if p.file_name().is_some_and(|n| n == "kustomization.yaml") {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// A copy of deploy/ with its one `namespace:` line changed to `ns`, and nothing else.
fn renamed_copy(ns: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("deploy");
    copy_dir(&deploy(), &copy);
    let mut lines = Vec::new();
    for k in kustomizations(&copy) {
        let text = std::fs::read_to_string(&k).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.starts_with("namespace:") {
                lines.push((k.clone(), n, line.to_string()));
            }
        }
    }
    assert_eq!(
        lines.len(),
        1,
        "one `namespace:` line names the namespace: {lines:?}"
    );
    let (file, n, line) = &lines[0];
    assert_eq!(line, &format!("namespace: {NS}"));
    assert!(file.ends_with("deploy/base/kustomization.yaml"));
    let text = std::fs::read_to_string(file).unwrap();
    let edited: Vec<String> = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == *n {
                format!("namespace: {ns}")
            } else {
                l.to_string()
            }
        })
        .collect();
    std::fs::write(file, edited.join("\n") + "\n").unwrap();
    tmp
}

fn validate(file: &Path, version: &str) -> Option<(bool, String)> {
    let mut cmd = Command::new("python3");
    if let Ok(p) = std::env::var("QUORATE_K8S_VALIDATE") {
        cmd.env("PYTHONPATH", p);
    }
    cmd.args(["-m", "kubernetes_validate", "--strict", "-k", version])
        .arg(file);
    let out = cmd.output();
    let missing = out.as_ref().map_or(true, |o| {
        String::from_utf8_lossy(&o.stderr).contains("No module named")
    });
    if missing {
        assert!(
            std::env::var_os("QUORATE_REQUIRE_K8S_VALIDATE").is_none(),
            "kubernetes-validate is required here but not installed (see .ci/run)"
        );
        eprintln!(
            "kubernetes-validate not installed: schema validation of deploy/ skipped (run .ci/run)"
        );
        return None;
    }
    let out = out.unwrap();
    Some((
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    ))
}

/// (a) What deploy/ and deploy/webhook/ render validates, strictly, against the schemas of the
/// oldest supported Kubernetes and the newest the tool has; the custom resources are the only
/// objects without a schema there (no CRDs for them in the shared corpus: their fields are
/// checked by `certificates_network_policy_and_service_monitor_fit_the_deployment`).
#[test]
fn rendered_manifests_validate_against_kubernetes_schemas() {
    if !renderer() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    for dir in [deploy(), deploy().join("webhook")] {
        let text = render_text(&dir);
        let docs = parse("rendered", &text);
        let file = tmp.path().join("rendered.yaml");
        std::fs::write(&file, &text).unwrap();
        let builtin = docs.iter().filter(|d| !is_custom(d)).count();
        let custom = docs.len() - builtin;
        for version in K8S_VERSIONS {
            let Some((ok, text)) = validate(&file, version) else {
                return;
            };
            assert!(ok, "{} does not validate:\n{text}", dir.display());
            assert_eq!(
                text.matches(" passed for resource ").count(),
                builtin,
                "every built-in object is validated ({}, {version}):\n{text}",
                dir.display()
            );
            let unschema: Vec<&str> = text
                .lines()
                .filter(|l| l.contains("Couldn't find schema"))
                .collect();
            assert_eq!(unschema.len(), custom, "{text}");
            for l in unschema {
                assert!(
                    CUSTOM_KINDS
                        .iter()
                        .any(|k| l.contains(&format!("for kind {k} "))),
                    "only the custom resources lack a schema: {l}"
                );
            }
        }
    }
}

/// (b) Changing the base's one `namespace:` line moves every reference to the namespace:
/// none still says `quorate`, and each says `guard-system` in its own form.
#[test]
fn one_namespace_line_renames_every_reference() {
    if !renderer() {
        return;
    }
    let original = render(&deploy().join("webhook"));
    let copy = renamed_copy(RENAMED);
    let renamed = render(&copy.path().join("deploy/webhook"));

    let refs = namespace_refs(&original, NS);
    let stale = namespace_refs(&renamed, NS);
    assert!(
        stale.is_empty(),
        "still the old namespace after the rename: {stale:?}"
    );
    assert_eq!(original.len(), renamed.len());
    for (i, (a, b)) in original.iter().zip(&renamed).enumerate() {
        assert_eq!(a["kind"], b["kind"], "object {i}");
    }
    for (i, pointer, value) in &refs {
        let now = renamed[*i].pointer(pointer).and_then(Value::as_str);
        assert_eq!(
            now,
            Some(renamed_ref(value, NS, RENAMED).as_str()),
            "{} {pointer} after the rename",
            label(&original[*i])
        );
    }
    let found: Vec<String> = refs
        .iter()
        .map(|(i, p, _)| format!("{} {p}", label(&original[*i])))
        .collect();
    for want in [
        "Namespace/quorate /metadata/name",
        "ClusterRoleBinding/quorate-lookups /subjects/0/namespace",
        "Certificate/quorate-tls /spec/dnsNames/0",
        "Certificate/quorate-tls /spec/dnsNames/1",
        "ServiceMonitor/quorate /spec/endpoints/0/tlsConfig/serverName",
        "ValidatingWebhookConfiguration/quorate /metadata/annotations/cert-manager.io~1inject-ca-from",
        "ValidatingWebhookConfiguration/quorate /webhooks/0/clientConfig/service/namespace",
        "ValidatingWebhookConfiguration/quorate /webhooks/0/namespaceSelector/matchExpressions/0/values/1",
    ] {
        assert!(found.iter().any(|f| f == want), "{want} not among {found:?}");
    }
    let namespaced = original
        .iter()
        .filter(|d| d["metadata"]["namespace"].is_string())
        .count();
    assert_eq!(
        refs.len(),
        namespaced + 8,
        "each namespaced object's metadata.namespace and the eight above: {found:?}"
    );

    // Spelled out, in the renamed rendering.
    let vwc = find(&renamed, "ValidatingWebhookConfiguration", "quorate");
    let hook = &vwc["webhooks"][0];
    assert_eq!(hook["clientConfig"]["service"]["namespace"], RENAMED);
    assert_eq!(
        hook["namespaceSelector"]["matchExpressions"][0]["values"],
        json!(["kube-system", RENAMED])
    );
    assert_eq!(
        vwc["metadata"]["annotations"]["cert-manager.io/inject-ca-from"],
        format!("{RENAMED}/quorate-tls")
    );
    let cert = find(&renamed, "Certificate", "quorate-tls");
    assert_eq!(
        cert["spec"]["dnsNames"],
        json!([
            format!("quorate.{RENAMED}.svc"),
            format!("quorate.{RENAMED}.svc.cluster.local")
        ])
    );
    assert_eq!(
        find(&renamed, "ServiceMonitor", "quorate")["spec"]["endpoints"][0]["tlsConfig"]
            ["serverName"],
        format!("quorate.{RENAMED}.svc")
    );
    assert_eq!(
        find(&renamed, "ClusterRoleBinding", "quorate-lookups")["subjects"][0]["namespace"],
        RENAMED
    );
    find(&renamed, "Namespace", RENAMED);
    for d in &renamed {
        if d["metadata"]["namespace"].is_string() {
            assert_eq!(d["metadata"]["namespace"], RENAMED, "{}", label(d));
        }
    }
}

/// (b) Each replacement in the kustomizations is needed, and the check above would catch its
/// absence: with any one field path of any replacement removed, the renamed rendering still
/// says `quorate` somewhere a namespace belongs.
#[test]
fn a_missing_replacement_leaves_the_old_namespace_behind() {
    if !renderer() {
        return;
    }
    let copy = renamed_copy(RENAMED);
    let root = copy.path().join("deploy");
    let mut cases = 0;
    for file in kustomizations(&root) {
        let original = std::fs::read_to_string(&file).unwrap();
        let k = parse(&file.display().to_string(), &original).remove(0);
        let Some(replacements) = k["replacements"].as_array() else {
            continue;
        };
        for (r, rep) in replacements.iter().enumerate() {
            for (t, target) in rep["targets"].as_array().unwrap().iter().enumerate() {
                for f in 0..target["fieldPaths"].as_array().unwrap().len() {
                    let mut cut = k.clone();
                    let targets = cut["replacements"][r]["targets"].as_array_mut().unwrap();
                    let paths = targets[t]["fieldPaths"].as_array_mut().unwrap();
                    let removed = paths.remove(f);
                    if paths.is_empty() {
                        targets.remove(t);
                    }
                    if targets.is_empty() {
                        cut["replacements"].as_array_mut().unwrap().remove(r);
                    }
                    // JSON is YAML: kustomize reads it as it is.
                    std::fs::write(&file, serde_json::to_string_pretty(&cut).unwrap()).unwrap();
                    let stale = namespace_refs(&render(&root.join("webhook")), NS);
                    assert!(
                        !stale.is_empty(),
                        "without {removed} in {}, nothing says {NS}: the replacement is not needed or not checked",
                        file.display()
                    );
                    cases += 1;
                }
            }
        }
        std::fs::write(&file, original).unwrap();
    }
    assert_eq!(cases, 5, "the base's 3 field paths and the overlay's 2");
    // And with every replacement in place, nothing is left behind.
    assert!(namespace_refs(&render(&root.join("webhook")), NS).is_empty());
}

/// (d) The install order: `kubectl apply -k deploy/` brings no webhook configuration, so
/// nothing can refuse requests before quorate is Ready; deploy/webhook/ adds exactly that,
/// with the quorate.dev/ignore opt-out in both selectors. The image is the published one.
#[test]
fn base_holds_no_webhook_configuration_and_the_overlay_adds_it() {
    if !renderer() {
        return;
    }
    let top = render(&deploy());
    let base = render(&deploy().join("base"));
    let overlay = render(&deploy().join("webhook"));
    assert_eq!(top, base, "deploy/ is the base");
    for d in &base {
        assert!(
            !d["kind"]
                .as_str()
                .unwrap()
                .ends_with("WebhookConfiguration"),
            "the base must not register a webhook: {}",
            label(d)
        );
    }
    let added: Vec<&Value> = overlay.iter().filter(|d| !base.contains(d)).collect();
    assert_eq!(added.len(), 1, "the overlay adds one object");
    assert_eq!(added[0]["kind"], "ValidatingWebhookConfiguration");
    assert_eq!(overlay.len(), base.len() + 1, "and keeps the base as it is");

    let hook = &added[0]["webhooks"][0];
    let opt_out = json!({"key": "quorate.dev/ignore", "operator": "NotIn", "values": ["true"]});
    for selector in ["namespaceSelector", "objectSelector"] {
        assert!(
            hook[selector]["matchExpressions"]
                .as_array()
                .unwrap()
                .contains(&opt_out),
            "{selector} lacks the opt-out: {}",
            hook[selector]
        );
    }

    let mut counts = std::collections::BTreeMap::new();
    for d in &overlay {
        *counts.entry(d["kind"].as_str().unwrap()).or_insert(0) += 1;
    }
    eprintln!(
        "rendered: base {} objects, overlay {}: {counts:?}",
        base.len(),
        overlay.len()
    );

    let deployment = find(&base, "Deployment", "quorate");
    let image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap();
    assert_eq!(
        image,
        format!("{IMAGE}:{}", env!("CARGO_PKG_VERSION")),
        "the image the release workflow publishes, by full reference"
    );
}

/// The CRs, which have no schema here: the self-signed CA chain ends in the Secret the
/// Deployment mounts, for the Service's DNS names; the webhook trusts that chain's CA; the
/// NetworkPolicy opens only the serving port of quorate's pods; Prometheus scrapes /metrics
/// over HTTPS on the Service's port, checking the serving certificate.
#[test]
fn certificates_network_policy_and_service_monitor_fit_the_deployment() {
    if !renderer() {
        return;
    }
    let docs = render(&deploy().join("webhook"));
    let deployment = find(&docs, "Deployment", "quorate");
    let pod = &deployment["spec"]["template"];
    let container = &pod["spec"]["containers"][0];
    let service = find(&docs, "Service", "quorate");
    let tls_secret = pod["spec"]["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "tls")
        .unwrap()["secret"]["secretName"]
        .clone();
    assert_eq!(tls_secret, "quorate-tls");

    let selfsigned = find(&docs, "Issuer", "quorate-selfsigned");
    assert_eq!(selfsigned["spec"]["selfSigned"], json!({}));
    let ca = find(&docs, "Certificate", "quorate-ca");
    assert_eq!(ca["spec"]["isCA"], true);
    assert_eq!(ca["spec"]["issuerRef"]["name"], "quorate-selfsigned");
    let ca_issuer = find(&docs, "Issuer", "quorate-ca");
    assert_eq!(
        ca_issuer["spec"]["ca"]["secretName"],
        ca["spec"]["secretName"]
    );
    let serving = find(&docs, "Certificate", "quorate-tls");
    assert_eq!(serving["spec"]["issuerRef"]["name"], "quorate-ca");
    assert_eq!(serving["spec"]["issuerRef"]["kind"], "Issuer");
    assert_eq!(serving["spec"]["secretName"], tls_secret);
    let svc_dns = format!("quorate.{NS}.svc");
    assert_eq!(
        serving["spec"]["dnsNames"],
        json!([svc_dns, format!("{svc_dns}.cluster.local")])
    );
    let vwc = find(&docs, "ValidatingWebhookConfiguration", "quorate");
    assert_eq!(
        vwc["metadata"]["annotations"]["cert-manager.io/inject-ca-from"],
        format!("{NS}/quorate-tls"),
        "caBundle from the serving Certificate's CA"
    );
    let to = &vwc["webhooks"][0]["clientConfig"]["service"];
    assert_eq!(to["name"], service["metadata"]["name"]);
    assert_eq!(to["port"], service["spec"]["ports"][0]["port"]);
    assert_eq!(
        format!(
            "{}.{}.svc",
            to["name"].as_str().unwrap(),
            to["namespace"].as_str().unwrap()
        ),
        svc_dns,
        "the certificate names the host the API server calls"
    );

    let np = find(&docs, "NetworkPolicy", "quorate");
    assert_eq!(
        np["spec"]["podSelector"]["matchLabels"],
        pod["metadata"]["labels"]
    );
    assert_eq!(np["spec"]["policyTypes"], json!(["Ingress"]));
    let ingress = np["spec"]["ingress"].as_array().unwrap();
    assert_eq!(ingress.len(), 1);
    assert_eq!(
        ingress[0]["ports"],
        json!([{"protocol": "TCP", "port": container["ports"][0]["containerPort"]}]),
        "only the serving port"
    );
    assert_eq!(container["ports"].as_array().unwrap().len(), 1);
    assert_eq!(container["ports"][0]["containerPort"], 8443);
    assert!(container["args"]
        .as_array()
        .unwrap()
        .contains(&json!("--addr=0.0.0.0:8443")));

    let sm = find(&docs, "ServiceMonitor", "quorate");
    assert_eq!(
        sm["spec"]["selector"]["matchLabels"],
        service["metadata"]["labels"]
    );
    let ep = &sm["spec"]["endpoints"][0];
    assert_eq!(ep["port"], service["spec"]["ports"][0]["name"]);
    assert_eq!(ep["scheme"], "https");
    assert_eq!(ep["path"], "/metrics");
    assert_eq!(ep["tlsConfig"]["serverName"], svc_dns.as_str());
    assert_eq!(
        ep["tlsConfig"]["ca"]["secret"],
        json!({"name": tls_secret, "key": "ca.crt"})
    );
}

/// (c) What the webhook needs, in the rendered objects.
#[test]
fn webhook_configuration_covers_what_quorate_judges() {
    if !renderer() {
        return;
    }
    let docs = render(&deploy().join("webhook"));
    let vwc = find(&docs, "ValidatingWebhookConfiguration", "quorate");
    let hook = &vwc["webhooks"][0];
    assert_eq!(hook["admissionReviewVersions"], json!(["v1"]));
    assert_eq!(hook["sideEffects"], "None");
    assert_eq!(hook["failurePolicy"], "Fail", "the documented choice");
    assert_eq!(hook["clientConfig"]["service"]["path"], "/validate");
    let conditions: Vec<&str> = hook["matchConditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        conditions,
        ["not-control-plane-delete", "not-already-terminating"]
    );
    let timeout = hook["timeoutSeconds"].as_u64().unwrap();
    let mut covered = Vec::new();
    for rule in hook["rules"].as_array().unwrap() {
        for op in rule["operations"].as_array().unwrap() {
            for res in rule["resources"].as_array().unwrap() {
                covered.push(format!(
                    "{} {}",
                    op.as_str().unwrap(),
                    res.as_str().unwrap()
                ));
            }
        }
    }
    for want in [
        "UPDATE statefulsets/scale",
        "UPDATE deployments/scale",
        "UPDATE replicasets/scale",
        "UPDATE statefulsets",
        "DELETE statefulsets",
        "DELETE pods",
        "CREATE pods/eviction",
        "UPDATE elasticsearches",
    ] {
        assert!(
            covered.contains(&want.to_string()),
            "webhook rules lack {want}: {covered:?}"
        );
    }
    let excluded = &hook["namespaceSelector"]["matchExpressions"][0];
    assert_eq!(excluded["key"], "kubernetes.io/metadata.name");
    assert_eq!(excluded["operator"], "NotIn");
    assert_eq!(
        excluded["values"],
        json!(["kube-system", NS]),
        "never judges kube-system or its own namespace"
    );

    let deployment = find(&docs, "Deployment", "quorate");
    assert_eq!(deployment["spec"]["replicas"], 2);
    let pod = &deployment["spec"]["template"]["spec"];
    assert!(pod["affinity"]["podAntiAffinity"].is_object());
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let c = &pod["containers"][0];
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert!(
        c["resources"]["requests"]["cpu"].is_string()
            && c["resources"]["requests"]["memory"].is_string()
    );
    let args: Vec<&str> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(args[0], "serve");
    let request_timeout = args
        .iter()
        .find_map(|a| a.strip_prefix("--request-timeout="))
        .unwrap();
    let secs: u64 = request_timeout.trim_end_matches('s').parse().unwrap();
    assert!(
        secs < timeout,
        "quorate must answer before the API server's timeoutSeconds"
    );

    let pdb = find(&docs, "PodDisruptionBudget", "quorate");
    assert_eq!(
        pdb["spec"]["selector"]["matchLabels"],
        deployment["spec"]["selector"]["matchLabels"]
    );
    let role = find(&docs, "ClusterRole", "quorate-lookups");
    for rule in role["rules"].as_array().unwrap() {
        assert_eq!(
            rule["verbs"],
            json!(["get", "list", "watch"]),
            "lookups are read-only"
        );
    }
    let binding = find(&docs, "ClusterRoleBinding", "quorate-lookups");
    assert_eq!(binding["roleRef"]["name"], "quorate-lookups");
    assert_eq!(
        binding["subjects"][0]["name"], pod["serviceAccountName"],
        "the Deployment's service account gets the lookups"
    );
}

/// The README installs the base, waits for the Deployment, then applies the webhook overlay,
/// and uninstalls the webhook configuration first: the order in which `failurePolicy: Fail`
/// never meets a webhook without a server.
#[test]
fn readme_installs_the_webhook_last_and_removes_it_first() {
    let readme = std::fs::read_to_string(common::root().join("README.md")).unwrap();
    let section = readme
        .split("\n### Install\n")
        .nth(1)
        .and_then(|s| s.split("\n### ").next())
        .expect("README has an Install section");
    let at = |cmd: &str| {
        section
            .find(cmd)
            .unwrap_or_else(|| panic!("README Install lacks `{cmd}`"))
    };
    let base = at("kubectl apply -k deploy/ ");
    let ready = at(&format!(
        "kubectl -n {NS} rollout status deploy/quorate --timeout="
    ));
    let webhook = at("kubectl apply -k deploy/webhook/");
    assert!(base < ready && ready < webhook, "install order");
    let unhook = at("kubectl delete validatingwebhookconfiguration quorate");
    let delete = at("kubectl delete -k deploy/\n");
    assert!(webhook < unhook && unhook < delete, "uninstall order");
}
