//! scripts/preflight, the read-only checks of an account before `sam deploy`, run against AWS CLI
//! answers recorded in tests/preflight/: a fake `aws` answers only the calls recorded for an
//! account (passing/, failing/) and logs each one, so these tests prove which calls the script
//! makes, that each of them only reads, and what it prints, fixes included, for an account that
//! is ready and for one that is not. The sibling URLs are answered by a stub (tests/preflight/http/).

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::atomic::{AtomicUsize, Ordering},
};

use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("preflight")
}

/// The Python interpreter itself, not a version manager's shim: a shim (pyenv) puts its own bin
/// directory, which may hold a real `aws`, before the fake on PATH.
fn python() -> String {
    let output =
        Command::new("python3").args(["-c", "import sys; print(sys.executable)"]).output().expect("python3 runs");
    String::from_utf8(output.stdout).expect("a path").trim().to_owned()
}

/// One run of scripts/preflight.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    /// Each AWS CLI call, in order: its arguments and the recording that answered it (None: none did).
    calls: Vec<(Vec<String>, Option<String>)>,
}

impl Run {
    /// The lines that start with `prefix` ("ok", "FAIL", "skip").
    fn lines(&self, prefix: &str) -> Vec<&str> {
        self.stdout.lines().filter(|line| line.starts_with(prefix)).collect()
    }

    /// The first line starting with `start`, and the fix printed under it (its lines unindented).
    fn check(&self, start: &str) -> (&str, String) {
        let mut lines = self.stdout.lines();
        let line = lines
            .by_ref()
            .find(|line| line.starts_with(start))
            .unwrap_or_else(|| panic!("no line starting {start:?} in:\n{}", self.stdout));
        let fix: Vec<&str> = lines.take_while(|line| line.starts_with("     ")).map(str::trim).collect();
        (line, fix.join("\n").trim_start_matches("fix: ").to_owned())
    }

    fn unanswered(&self) -> Vec<String> {
        self.calls.iter().filter(|(_, recording)| recording.is_none()).map(|(args, _)| args.join(" ")).collect()
    }
}

/// Runs scripts/preflight from the repository's root with the fake `aws` first on PATH, answering
/// from the recordings in `account`, and the URLs answered by tests/preflight/http/`http`.
fn preflight(account: &Path, http: &str, args: &[&str]) -> Run {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let log = std::env::temp_dir().join(format!(
        "portforge-preflight-{}-{}.log",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_file(&log);
    let path = std::env::join_paths(
        std::iter::once(fixtures()).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .expect("PATH");
    let output = Command::new(python())
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .arg("scripts/preflight")
        .args(args)
        .env("PATH", path)
        .env("FAKE_AWS_DIR", account)
        .env("FAKE_AWS_LOG", &log)
        .env("PREFLIGHT_HTTP_STUB", fixtures().join("http").join(http))
        .output()
        .expect("scripts/preflight runs");
    let calls = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .map(|line| {
            let call: Value = serde_json::from_str(line).expect("a JSON line");
            let args = call["args"].as_array().expect("args").iter().map(|a| a.as_str().unwrap().to_owned()).collect();
            (args, call["recording"].as_str().map(str::to_owned))
        })
        .collect();
    let _ = std::fs::remove_file(&log);
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        calls,
    }
}

/// An environment of tests/preflight/samconfig.toml against a recorded account.
fn run_env(account: &str, http: &str, env: &str, extra: &[&str]) -> Run {
    let args = [&["--config-file", "tests/preflight/samconfig.toml", "--config-env", env], extra].concat();
    preflight(&fixtures().join(account), http, &args)
}

/// The recordings of an account: file name and arguments.
fn recordings(account: &str) -> Vec<(String, Vec<String>)> {
    let mut all: Vec<(String, Vec<String>)> = std::fs::read_dir(fixtures().join(account))
        .expect("the account's recordings")
        .map(|entry| {
            let path = entry.expect("entry").path();
            let recording: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("JSON");
            let args = recording["args"].as_array().expect("args").iter().map(|a| a.as_str().unwrap().to_owned());
            (path.file_name().unwrap().to_string_lossy().into_owned(), args.collect())
        })
        .collect();
    all.sort();
    all
}

#[test]
fn a_ready_account_passes_every_check() {
    let run = run_env("passing", "reachable.json", "staging", &[]);
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    assert_eq!(
        run.lines("ok"),
        [
            "ok   API Gateway CloudWatch Logs role in eu-west-1: arn:aws:iam::111122223333:role/APIGatewayCloudWatchLogs",
            "ok   subnet subnet-0a1b2c3d4e5f60001: route table rtb-0a1b2c3d4e5f60011 sends 0.0.0.0/0 to NAT gateway nat-0a1b2c3d4e5f60021",
            "ok   subnet subnet-0a1b2c3d4e5f60002: vpc-0a1b2c3d4e5f60000's main route table rtb-0a1b2c3d4e5f60010 (the subnet has no table of its own) sends 0.0.0.0/0 to NAT gateway nat-0a1b2c3d4e5f60022",
            "ok   subnet subnet-0a1b2c3d4e5f60003: route table rtb-0a1b2c3d4e5f60013 sends 0.0.0.0/0 to NAT gateway nat-0a1b2c3d4e5f60023",
            "ok   secret DatabaseSecretArn: portforge-support-staging-app",
            "ok   secret MigrationSecretArn: portforge-support-staging-migrator",
            "ok   secret SiblingClientSecretArn: portforge-support-staging-client",
            "ok   SNS topic AlarmTopicArn: arn:aws:sns:eu-west-1:111122223333:portforge-staging-alarms (2 confirmed subscriptions)",
            "ok   Cognito user pool CognitoUserPoolId: eu-west-1_StAgInG42 (portforge-staging)",
            "ok   ProjectServiceUrl: https://projects.staging.portforge.dev answers over HTTPS (HTTP 404)",
            "ok   TeamServiceUrl: https://teams.staging.portforge.dev answers over HTTPS (HTTP 401)",
            "ok   AuthServiceUrl: https://portforge-staging.auth.eu-west-1.amazoncognito.com answers over HTTPS (HTTP 302)",
        ]
    );
    assert!(run.lines("FAIL").is_empty(), "{}", run.stdout);
    assert_eq!(run.stdout.lines().last(), Some("all 12 checks passed: sam build && sam deploy --config-env staging"));
    // Every recorded answer was asked for, once, and nothing else.
    assert!(run.unanswered().is_empty(), "calls nothing answers: {:?}", run.unanswered());
    let mut answered: Vec<String> = run.calls.iter().filter_map(|(_, recording)| recording.clone()).collect();
    answered.sort();
    let recorded: Vec<String> = recordings("passing").into_iter().map(|(name, _)| name).collect();
    assert_eq!(answered, recorded);
}

#[test]
fn an_account_not_ready_fails_each_check_with_its_fix() {
    let run = run_env("failing", "reachable.json", "staging", &[]);
    assert_eq!(run.code, Some(1), "{}{}", run.stdout, run.stderr);
    assert!(run.unanswered().is_empty(), "calls nothing answers: {:?}", run.unanswered());

    let (line, fix) = run.check("FAIL API Gateway CloudWatch Logs role in eu-west-1");
    assert!(
        line.ends_with("none is set; creating the WebSocket stage (it writes access logs) fails without it"),
        "{line}"
    );
    assert!(
        fix.starts_with(
            "add \"CreateApiGatewayLoggingRole=true\" to parameter_overrides of [staging.deploy.parameters] in tests/preflight/samconfig.toml"
        ),
        "{fix}"
    );
    assert!(fix.contains("aws iam create-role --role-name APIGatewayCloudWatchLogs"), "{fix}");
    assert!(fix.contains("service-role/AmazonAPIGatewayPushToCloudWatchLogs"), "{fix}");
    assert!(
        fix.contains(
            "aws apigateway update-account --region eu-west-1 --patch-operations op=replace,path=/cloudwatchRoleArn,value=ROLE_ARN"
        ),
        "{fix}"
    );

    // No default route in the main route table subnet b follows.
    let (line, fix) = run.check("FAIL subnet subnet-0a1b2c3d4e5f60002");
    assert_eq!(
        line,
        "FAIL subnet subnet-0a1b2c3d4e5f60002: vpc-0a1b2c3d4e5f60000's main route table rtb-0a1b2c3d4e5f60010 (the subnet has no table of its own) has no default route (0.0.0.0/0)"
    );
    assert!(
        fix.starts_with("aws ec2 create-route --region eu-west-1 --route-table-id rtb-0a1b2c3d4e5f60010 --destination-cidr-block 0.0.0.0/0 --nat-gateway-id NAT_ID"),
        "{fix}"
    );
    assert!(
        fix.contains("aws ec2 associate-route-table --region eu-west-1 --subnet-id subnet-0a1b2c3d4e5f60002"),
        "{fix}"
    );
    assert!(fix.contains("why NAT: the functions go out through it for @connections posts"), "{fix}");

    // Subnet c is public: its default route goes to an internet gateway.
    let (line, fix) = run.check("FAIL subnet subnet-0a1b2c3d4e5f60003");
    assert!(
        line.contains("route table rtb-0a1b2c3d4e5f60013 sends 0.0.0.0/0 to internet gateway igw-0a1b2c3d4e5f60030: a public subnet"),
        "{line}"
    );
    assert!(fix.starts_with("list private subnets in SubnetIds"), "{fix}");
    assert!(fix.contains("why NAT:"), "{fix}");

    let (line, fix) = run.check("FAIL secret MigrationSecretArn");
    assert!(
        line.ends_with(
            "An error occurred (ResourceNotFoundException) when calling the DescribeSecret operation: Secrets Manager can't find the specified secret."
        ),
        "{line}"
    );
    assert_eq!(
        fix,
        "create the secret in eu-west-1, or correct MigrationSecretArn in parameter_overrides of [staging.deploy.parameters] in tests/preflight/samconfig.toml"
    );

    assert_eq!(run.lines("FAIL").len(), 4, "{}", run.stdout);
    for passing in [
        "ok   subnet subnet-0a1b2c3d4e5f60001: route table rtb-0a1b2c3d4e5f60011 sends 0.0.0.0/0 to NAT gateway",
        "ok   secret DatabaseSecretArn: portforge-support-staging-app",
        "ok   secret SiblingClientSecretArn: portforge-support-staging-client",
        "ok   SNS topic AlarmTopicArn:",
        "ok   Cognito user pool CognitoUserPoolId: eu-west-1_StAgInG42",
        "ok   ProjectServiceUrl:",
        "ok   TeamServiceUrl:",
        "ok   AuthServiceUrl:",
    ] {
        run.check(passing);
    }
    assert_eq!(run.lines("ok").len(), 8, "{}", run.stdout);
    assert_eq!(
        run.stdout.lines().last(),
        Some("4 of 12 checks failed: fix them, then sam deploy --config-env staging")
    );
}

#[test]
fn every_recorded_call_only_reads_in_the_deploy_region_as_json() {
    for account in ["passing", "failing"] {
        for (name, args) in recordings(account) {
            let operation = &args[1];
            assert!(
                ["describe-", "get-", "list-"].iter().any(|verb| operation.starts_with(verb)),
                "{account}/{name}: {operation} may change something"
            );
            // Describing a secret shows its metadata; its value is never read.
            assert_ne!(operation, "get-secret-value", "{account}/{name}");
            assert_eq!(args[2..6], ["--region", "eu-west-1", "--output", "json"], "{account}/{name}");
        }
    }
}

#[test]
fn the_stack_may_set_the_logging_role_but_vpc_endpoints_do_not_replace_nat() {
    let run = run_env("failing", "reachable.json", "selfmanaged", &[]);
    assert_eq!(run.code, Some(1), "{}{}", run.stdout, run.stderr);
    assert!(run.unanswered().is_empty(), "calls nothing answers: {:?}", run.unanswered());
    run.check(
        "ok   API Gateway CloudWatch Logs role in eu-west-1: CreateApiGatewayLoggingRole=true, the stack sets it (none is set yet)",
    );
    let (_, fix) = run.check("FAIL subnet subnet-0a1b2c3d4e5f60002");
    assert!(
        fix.contains(
            "why NAT: CreateVpcEndpoints=true reaches Secrets Manager and S3 without it, but @connections posts"
        ),
        "{fix}"
    );
    // SiblingClientSecretArn="" (quoted, empty) and no AuthServiceUrl: neither is asked about.
    let secrets = run.calls.iter().filter(|(args, _)| args[1] == "describe-secret").count();
    assert_eq!(secrets, 2);
    assert!(!run.stdout.contains("SiblingClientSecretArn") && !run.stdout.contains("AuthServiceUrl"), "{}", run.stdout);
}

#[test]
fn an_unreachable_sibling_service_fails_the_https_check() {
    let run = run_env("passing", "team-down.json", "staging", &[]);
    assert_eq!(run.code, Some(1), "{}{}", run.stdout, run.stderr);
    let (line, fix) = run.check("FAIL TeamServiceUrl");
    assert_eq!(
        line,
        "FAIL TeamServiceUrl https://teams.staging.portforge.dev does not answer over HTTPS (5 s timeout): unreachable (PREFLIGHT_HTTP_STUB)"
    );
    assert!(fix.contains("if it answers only inside the VPC, run with --skip-http"), "{fix}");
    run.check("ok   ProjectServiceUrl: https://projects.staging.portforge.dev answers over HTTPS (HTTP 404)");
    assert_eq!(run.lines("FAIL").len(), 1, "{}", run.stdout);
}

#[test]
fn a_plain_http_sibling_url_fails_with_the_fix_to_use_https() {
    let run = run_env("passing", "reachable.json", "plainhttp", &[]);
    assert_eq!(run.code, Some(1), "{}{}", run.stdout, run.stderr);
    let (line, fix) = run.check("FAIL ProjectServiceUrl");
    assert_eq!(line, "FAIL ProjectServiceUrl http://projects.staging.portforge.dev is not an https:// URL");
    assert!(
        fix.starts_with(
            "use the service's HTTPS URL, \"ProjectServiceUrl=https://projects.staging.portforge.dev\", in parameter_overrides of [plainhttp.deploy.parameters]"
        ),
        "{fix}"
    );
    assert_eq!(run.lines("FAIL").len(), 1, "{}", run.stdout);
}

#[test]
fn skip_http_asks_no_sibling_service() {
    // The stub's Team service is down: only a check that asks would fail.
    let run = run_env("passing", "team-down.json", "staging", &["--skip-http"]);
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    assert_eq!(
        run.lines("skip"),
        ["skip ProjectServiceUrl, TeamServiceUrl, AuthServiceUrl answer over HTTPS: --skip-http"]
    );
    assert_eq!(run.lines("ok").len(), 9, "{}", run.stdout);
}

#[test]
fn an_environment_without_deploy_parameters_or_a_missing_file_is_a_usage_error() {
    let run = run_env("passing", "reachable.json", "nosuch", &[]);
    assert_eq!(run.code, Some(2), "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(
            "tests/preflight/samconfig.toml has no [nosuch.deploy.parameters]; environments it deploys: plainhttp, selfmanaged, staging"
        ),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("usage: scripts/preflight --config-env ENV [--config-file PATH] [--skip-http]"));
    assert!(run.calls.is_empty() && run.stdout.is_empty(), "{}", run.stdout);

    // `local` has parameters for `sam local` only.
    assert_eq!(run_env("passing", "reachable.json", "local", &[]).code, Some(2));
    let account = fixtures().join("passing");
    let missing =
        preflight(&account, "reachable.json", &["--config-file", "tests/preflight/none.toml", "--config-env", "dev"]);
    assert_eq!(missing.code, Some(2));
    assert!(missing.stderr.contains("tests/preflight/none.toml: no such file"), "{}", missing.stderr);
    assert_eq!(preflight(&account, "reachable.json", &[]).code, Some(2), "--config-env is required");
}

#[test]
fn the_real_samconfig_is_read_for_dev_and_prod() {
    // An account with nothing recorded: every call fails, so each check that asks AWS fails, but
    // the environment's parameters were all read.
    let empty = std::env::temp_dir().join(format!("portforge-preflight-empty-{}", std::process::id()));
    std::fs::create_dir_all(&empty).expect("an empty directory");
    for env in ["dev", "prod"] {
        let run = preflight(&empty, "reachable.json", &["--config-env", env, "--skip-http"]);
        assert_eq!(run.code, Some(1), "{env}: {}{}", run.stdout, run.stderr);
        assert!(run.stderr.is_empty(), "{env}: {}", run.stderr);
        assert!(run.stdout.starts_with(&format!("preflight of {env} in ")), "{}", run.stdout);
        for check in ["FAIL secret DatabaseSecretArn", "FAIL secret MigrationSecretArn", "FAIL Cognito user pool"] {
            run.check(check);
        }
        assert!(!run.calls.is_empty() && run.unanswered().len() == run.calls.len(), "{env}: {:?}", run.calls);
    }
    let _ = std::fs::remove_dir(&empty);
}
