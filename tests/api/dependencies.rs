//! Each Lambda function links only the backends it serves: its dependency tree (as `cargo tree`
//! resolves it for that package alone, which is how `sam build` builds it) holds its own
//! backends and none of the others.

use std::{collections::BTreeSet, process::Command};

/// What a function must link, and what it must not.
struct Expectation {
    function: &'static str,
    links: &'static [&'static str],
    never: &'static [&'static str],
}

/// Crates no Lambda function may link: the embedded SQLite engine, the test-only WebSocket
/// client, the SDK's credential chains (a function's credentials are in its environment) and its
/// own HTTP client with HTTP/2 (the SDK sends through reqwest).
const LOCAL_ONLY: &[&str] = &[
    "libsqlite3-sys",
    "sqlx-sqlite",
    "tungstenite",
    "tokio-tungstenite",
    "aws-config",
    "aws-sdk-sts",
    "aws-sdk-sso",
    "aws-smithy-http-client",
    "h2",
    "rustls-native-certs",
];

const EXPECTATIONS: &[Expectation] = &[
    Expectation {
        function: "notifications",
        links: &["sqlx-mysql", "aws-sdk-dynamodb", "aws-sdk-apigatewaymanagement", "lambda_http"],
        never: &["jsonwebtoken", "backon"],
    },
    Expectation {
        function: "reports",
        links: &["sqlx-mysql", "aws-sdk-dynamodb", "aws-sdk-apigatewaymanagement", "reqwest", "backon", "lambda_http"],
        never: &["jsonwebtoken"],
    },
    Expectation {
        function: "content",
        links: &["sqlx-mysql", "lambda_http"],
        never: &["aws-sdk-dynamodb", "aws-sdk-apigatewaymanagement", "jsonwebtoken", "reqwest"],
    },
    Expectation {
        function: "events",
        links: &["sqlx-mysql", "lambda_http"],
        never: &["aws-sdk-dynamodb", "aws-sdk-apigatewaymanagement", "jsonwebtoken", "reqwest"],
    },
    Expectation {
        function: "admin",
        links: &["sqlx-mysql", "lambda_http"],
        never: &["aws-sdk-dynamodb", "aws-sdk-apigatewaymanagement", "jsonwebtoken", "reqwest"],
    },
    Expectation {
        function: "chat",
        links: &["aws-sdk-dynamodb", "aws-sdk-apigatewaymanagement", "reqwest", "lambda_http"],
        never: &["sqlx", "sqlx-mysql", "jsonwebtoken"],
    },
    Expectation {
        function: "ws-connect",
        // The management API: a member coming online is told to the project.
        links: &["aws-sdk-dynamodb", "aws-sdk-apigatewaymanagement", "reqwest", "lambda_runtime"],
        never: &["sqlx", "jsonwebtoken", "axum", "lambda_http"],
    },
    Expectation {
        function: "ws-disconnect",
        // The management API: a member going offline is told to the project.
        links: &["aws-sdk-dynamodb", "aws-sdk-apigatewaymanagement", "lambda_runtime"],
        never: &["sqlx", "jsonwebtoken", "axum", "lambda_http", "backon"],
    },
    Expectation {
        function: "ws-message",
        // JWT: a socket renews its token in place (`refresh`).
        links: &["aws-sdk-dynamodb", "aws-sdk-apigatewaymanagement", "reqwest", "lambda_runtime", "jsonwebtoken"],
        never: &["sqlx", "axum", "lambda_http"],
    },
    Expectation {
        function: "migrate",
        links: &["sqlx-mysql", "reqwest", "lambda_runtime"],
        never: &["aws-sdk-dynamodb", "aws-sdk-apigatewaymanagement", "jsonwebtoken", "axum", "lambda_http"],
    },
    Expectation {
        function: "ws-authorize",
        links: &["jsonwebtoken", "lambda_runtime"],
        never: &["sqlx", "aws-sdk-dynamodb", "aws-sdk-apigatewaymanagement", "axum", "lambda_http"],
    },
];

fn normal_dependencies(package: &str) -> BTreeSet<String> {
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let output = Command::new(env!("CARGO"))
        .current_dir(&workspace)
        .args(["tree", "--locked", "--offline", "-e", "normal", "--prefix", "none", "-p", package])
        .output()
        .expect("cargo tree runs");
    assert!(output.status.success(), "cargo tree -p {package}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
        .collect()
}

#[test]
fn each_function_links_only_its_own_backends() {
    let functions: BTreeSet<String> =
        std::fs::read_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../functions"))
            .expect("functions/")
            .map(|entry| entry.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
    let expected: BTreeSet<String> = EXPECTATIONS.iter().map(|e| e.function.to_owned()).collect();
    assert_eq!(functions, expected, "every function has a row here, and every row a function");
    for expectation in EXPECTATIONS {
        let tree = normal_dependencies(expectation.function);
        for wanted in expectation.links {
            assert!(tree.contains(*wanted), "{} should link {wanted}", expectation.function);
        }
        for unwanted in expectation.never.iter().chain(LOCAL_ONLY) {
            assert!(!tree.contains(*unwanted), "{} links {unwanted}", expectation.function);
        }
    }
}
