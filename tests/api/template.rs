//! template.yaml agrees with the code: the browser rules API Gateway applies, and the WebSocket
//! routes the handlers serve.

use std::collections::BTreeSet;

use serde_norway::Value;

pub(crate) fn template() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
    serde_norway::from_str(&std::fs::read_to_string(path).expect("template.yaml")).expect("YAML")
}

fn strings(value: &Value) -> BTreeSet<String> {
    value.as_sequence().expect("a list").iter().map(|v| v.as_str().expect("a string").to_ascii_lowercase()).collect()
}

#[test]
fn cors_in_aws_is_the_list_the_local_gateway_uses() {
    let template = template();
    let cors = &template["Resources"]["HttpApi"]["Properties"]["CorsConfiguration"];
    let lower = |list: &[&str]| list.iter().map(|s| s.to_ascii_lowercase()).collect::<BTreeSet<_>>();
    assert_eq!(strings(&cors["AllowHeaders"]), lower(&shared::http::cors::ALLOWED_HEADERS));
    assert_eq!(strings(&cors["AllowMethods"]), lower(&shared::http::cors::ALLOWED_METHODS));
    assert_eq!(strings(&cors["ExposeHeaders"]), lower(&shared::http::cors::EXPOSED_HEADERS));
    assert_eq!(cors["MaxAge"].as_u64(), Some(shared::http::cors::MAX_AGE_SECONDS));
}

#[test]
fn every_client_action_has_a_websocket_route() {
    let template = template();
    let routes: BTreeSet<String> = template["Resources"]
        .as_mapping()
        .expect("resources")
        .values()
        .filter(|r| r["Type"].as_str() == Some("AWS::ApiGatewayV2::Route"))
        .map(|r| r["Properties"]["RouteKey"].as_str().expect("a route key").to_owned())
        .collect();
    let expected: BTreeSet<String> = [
        "$connect",
        "$disconnect",
        "$default",
        "sendMessage",
        "ping",
        "history",
        "subscribe",
        "editMessage",
        "deleteMessage",
        "markRead",
        "typing",
    ]
    .map(String::from)
    .into();
    assert_eq!(routes, expected);
}

/// The HTTP routes of each function as the template routes them: (method, path, public).
fn template_routes() -> std::collections::BTreeMap<String, BTreeSet<(String, String, bool)>> {
    let template = template();
    let mut by_function = std::collections::BTreeMap::new();
    for resource in template["Resources"].as_mapping().expect("resources").values() {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let binary =
            resource["Metadata"]["BuildProperties"]["Binary"].as_str().expect("every function names its binary");
        let routes: BTreeSet<(String, String, bool)> = resource["Properties"]["Events"]
            .as_mapping()
            .map(|events| {
                events
                    .values()
                    .filter(|e| e["Type"].as_str() == Some("HttpApi"))
                    .map(|e| {
                        let p = &e["Properties"];
                        let public = p["Auth"]["Authorizer"].as_str() == Some("NONE");
                        (
                            p["Method"].as_str().unwrap().to_ascii_lowercase(),
                            p["Path"].as_str().unwrap().to_owned(),
                            public,
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        by_function.insert(binary.to_owned(), routes);
    }
    by_function
}

/// What each HTTP function's router serves: its groups' routes and its health checks.
fn router_routes() -> std::collections::BTreeMap<String, BTreeSet<(String, String)>> {
    use shared::http::{RouteSpec, admin, chat, content, events, notifications, reports};
    let function = |group: &str, routes: &[RouteSpec], service_health: bool| {
        let mut all: BTreeSet<(String, String)> =
            routes.iter().map(|r| (r.method.to_owned(), r.path.to_owned())).collect();
        all.insert(("get".into(), format!("/{group}/health")));
        if service_health {
            all.insert(("get".into(), "/health".into()));
        }
        (group.to_owned(), all)
    };
    [
        function("notifications", notifications::ROUTES, false),
        function("content", content::ROUTES, true),
        function("events", events::ROUTES, false),
        function("admin", admin::ROUTES, false),
        function("chat", chat::ROUTES, false),
        function("reports", reports::ROUTES, false),
    ]
    .into()
}

/// Each template function is built from its own workspace crate (its CodeUri), whose package
/// (and so binary) is the one BuildProperties names; every function crate of the workspace is
/// in the template.
#[test]
fn every_template_function_is_a_workspace_binary_and_back() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let workspace = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let members: BTreeSet<String> = workspace
        .split("members = [")
        .nth(1)
        .and_then(|rest| rest.split(']').next())
        .expect("workspace members")
        .split(',')
        .map(|m| m.trim().trim_matches('"').to_owned())
        .filter(|m| m.starts_with("functions/"))
        .collect();
    let template = template();
    let mut built = BTreeSet::new();
    for resource in template["Resources"].as_mapping().unwrap().values() {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let binary = resource["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap();
        let code = resource["Properties"]["CodeUri"].as_str().expect("a CodeUri");
        assert!(members.contains(code), "{binary}: CodeUri {code} is not a workspace member");
        let manifest = std::fs::read_to_string(root.join(code).join("Cargo.toml")).unwrap();
        let package = manifest.lines().find_map(|l| l.strip_prefix("name = ")).map(|n| n.trim_matches('"'));
        assert_eq!(package, Some(binary), "{code}'s package is not the binary {binary}");
        assert!(root.join(code).join("src/main.rs").is_file(), "{code} has no binary");
        built.insert(code.to_owned());
    }
    assert_eq!(built, members, "function crates of the workspace and of the template");
}

#[test]
fn the_template_routes_each_http_route_to_the_function_that_serves_it_and_no_other() {
    let template = template_routes();
    for (function, served) in router_routes() {
        let routed: BTreeSet<(String, String)> =
            template[&function].iter().map(|(method, path, _)| (method.clone(), path.clone())).collect();
        assert_eq!(routed, served, "{function}: template routes vs. what its router serves");
    }
    let http_functions: BTreeSet<String> = router_routes().into_keys().collect();
    for (function, routes) in &template {
        if !http_functions.contains(function) {
            assert!(routes.is_empty(), "{function} has HTTP routes but serves none");
        }
    }
}

/// A browser's preflight (OPTIONS, no token) must reach API Gateway's CORS answer, not an
/// authorized route, which would refuse it 401 and fail every signed-in call from the web app.
#[test]
fn no_authorized_route_catches_a_preflight() {
    for (function, routes) in template_routes() {
        for (method, path, public) in routes {
            assert!(method != "any" && method != "options", "{function}: {method} {path} would catch preflights");
            assert!(!path.contains("{proxy+}") || public, "{function}: {path} is a catch-all");
        }
    }
}

/// The routes API Gateway lets through without a token are exactly the ones the code treats
/// as public (the local gateway reads the same list).
#[test]
fn public_routes_are_the_ones_the_code_knows_as_public() {
    let template: BTreeSet<(String, String)> = template_routes()
        .into_values()
        .flatten()
        .filter(|(_, _, public)| *public)
        .map(|(method, path, _)| (method, path))
        .collect();
    for (method, path) in &template {
        assert!(shared::http::is_public(method, &path.replace("{id}", "7")), "{method} {path}");
    }
    let code: BTreeSet<(String, String)> = shared::http::PUBLIC_ROUTES
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .chain(router_routes().into_values().flatten().filter(|(_, path)| path.ends_with("/health")))
        .collect();
    assert_eq!(template, code);
}

/// A sample deployment's parameters: defaults, and realistic values for the required ones.
fn sample_parameters(template: &Value) -> std::collections::BTreeMap<String, String> {
    let required = [
        ("DatabaseSecretArn", "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:portforge-app-AbCdEf"),
        ("MigrationSecretArn", "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:rds!db-1234-AbCdEf"),
        (
            "SecretsExtensionLayerArn",
            "arn:aws:lambda:ap-northeast-2:738900069198:layer:AWS-Parameters-and-Secrets-Lambda-Extension-Arm64:17",
        ),
        ("CognitoUserPoolId", "ap-northeast-2_AbCdEf123"),
        ("CognitoAudiences", "webclient123,projectservice456"),
        ("SubnetIds", "subnet-0a1b2c3d,subnet-4e5f6a7b"),
        ("SecurityGroupIds", "sg-0a1b2c3d"),
        ("ProjectServiceUrl", "https://projects.internal.portforge.dev"),
        ("TeamServiceUrl", "https://teams.internal.portforge.dev"),
        ("AlarmTopicArn", "arn:aws:sns:ap-northeast-2:123456789012:portforge-alarms"),
    ];
    let mut parameters = std::collections::BTreeMap::new();
    for (name, declared) in template["Parameters"].as_mapping().expect("parameters") {
        let name = name.as_str().unwrap().to_owned();
        let value = match &declared["Default"] {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => required
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
                .unwrap_or_else(|| panic!("parameter {name} has no default: give it a sample value here")),
        };
        parameters.insert(name, value);
    }
    parameters
}

/// Resolves CloudFormation's intrinsic functions for the sample deployment; `None` is
/// `AWS::NoValue`.
struct Resolver<'a> {
    template: &'a Value,
    parameters: std::collections::BTreeMap<String, String>,
}

impl Resolver<'_> {
    fn reference(&self, name: &str) -> Option<String> {
        match name {
            "AWS::NoValue" => None,
            "AWS::Region" => Some("ap-northeast-2".into()),
            "AWS::AccountId" => Some("123456789012".into()),
            _ => Some(self.parameters.get(name).cloned().unwrap_or_else(|| {
                assert!(!self.template["Resources"][name].is_null(), "!Ref to nothing: {name}");
                format!("{name}-physical-id")
            })),
        }
    }

    fn condition(&self, name: &str) -> bool {
        self.truth(&self.template["Conditions"][name])
    }

    fn truth(&self, value: &Value) -> bool {
        let Value::Tagged(tagged) = value else { panic!("not a condition: {value:?}") };
        let args = tagged.value.as_sequence();
        match tagged.tag.to_string().as_str() {
            "!Equals" => {
                let args = args.unwrap();
                self.resolve(&args[0]) == self.resolve(&args[1])
            }
            "!Not" => !self.truth(&args.unwrap()[0]),
            "!And" => args.unwrap().iter().all(|c| self.truth(c)),
            "!Or" => args.unwrap().iter().any(|c| self.truth(c)),
            "!Condition" => self.condition(tagged.value.as_str().unwrap()),
            other => panic!("condition function {other} is not handled here"),
        }
    }

    fn resolve(&self, value: &Value) -> Option<String> {
        match value {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Tagged(tagged) => {
                let arg = &tagged.value;
                match tagged.tag.to_string().as_str() {
                    "!Ref" => self.reference(arg.as_str().unwrap()),
                    "!GetAtt" => Some(format!("arn:aws:sample:{}", arg.as_str().unwrap())),
                    "!Sub" => {
                        let mut text = arg.as_str().expect("!Sub with a string").to_owned();
                        while let Some(start) = text.find("${") {
                            let end = start + text[start..].find('}').unwrap();
                            let name = &text[start + 2..end];
                            let value = if name.contains('.') && !name.starts_with("AWS::") {
                                format!("arn:aws:sample:{name}")
                            } else {
                                self.reference(name).unwrap_or_default()
                            };
                            text.replace_range(start..=end, &value);
                        }
                        Some(text)
                    }
                    "!Join" => {
                        let args = arg.as_sequence().unwrap();
                        let separator = args[0].as_str().unwrap();
                        let parts: Vec<String> = match &args[1] {
                            Value::Sequence(items) => items.iter().filter_map(|i| self.resolve(i)).collect(),
                            list => vec![self.resolve(list)?],
                        };
                        Some(parts.join(separator))
                    }
                    "!If" => {
                        let args = arg.as_sequence().unwrap();
                        let chosen = if self.condition(args[0].as_str().unwrap()) { &args[1] } else { &args[2] };
                        self.resolve(chosen)
                    }
                    other => panic!("intrinsic {other} is not handled here"),
                }
            }
            other => panic!("cannot resolve {other:?}"),
        }
    }

    /// The environment a function gets: the globals, then its own.
    fn environment(&self, function: &Value) -> std::collections::BTreeMap<String, String> {
        let mut env = std::collections::BTreeMap::new();
        for vars in [
            &self.template["Globals"]["Function"]["Environment"]["Variables"],
            &function["Properties"]["Environment"]["Variables"],
        ] {
            for (name, value) in vars.as_mapping().into_iter().flatten() {
                if let Some(value) = self.resolve(value) {
                    env.insert(name.as_str().unwrap().to_owned(), value);
                }
            }
        }
        env
    }
}

/// What Lambda itself puts in every function's environment.
fn lambda_provided(name: &str) -> Option<String> {
    match name {
        "AWS_REGION" => Some("ap-northeast-2".into()),
        "AWS_ACCESS_KEY_ID" => Some("ASIAEXAMPLEKEY".into()),
        "AWS_SECRET_ACCESS_KEY" => Some("example-secret".into()),
        "AWS_SESSION_TOKEN" => Some("example-session-token".into()),
        _ => None,
    }
}

/// Builds what `binary`'s main builds before its first event, from `config`.
async fn start_function(binary: &str, config: shared::Config) -> Result<(), String> {
    use shared::lambda;
    match binary {
        "notifications" => lambda::notifications(config).await.map(drop).map_err(|e| e.to_string()),
        "content" => lambda::content(config).await.map(drop).map_err(|e| e.to_string()),
        "events" => lambda::events(config).await.map(drop).map_err(|e| e.to_string()),
        "admin" => lambda::admin(config).await.map(drop).map_err(|e| e.to_string()),
        "chat" => lambda::chat(config).await.map(drop).map_err(|e| e.to_string()),
        "reports" => lambda::reports(config).await.map(drop).map_err(|e| e.to_string()),
        "ws-connect" => lambda::ws_connect(config).await.map(drop).map_err(|e| e.to_string()),
        "ws-disconnect" => lambda::ws_disconnect(config).await.map(drop).map_err(|e| e.to_string()),
        "ws-message" => lambda::ws_message(config).await.map(drop).map_err(|e| e.to_string()),
        "ws-authorize" => shared::cognito::CognitoVerifier::from_config(&config).map(drop).map_err(|e| e.to_string()),
        "migrate" => lambda::migrate(&config).map(drop).map_err(|e| e.to_string()),
        other => panic!("{other}: add its start-up here"),
    }
}

/// Each function starts with exactly the environment the template gives it (no variable it
/// needs is missing, none is malformed), and every variable the template sets is one the code
/// reads.
#[tokio::test]
async fn every_function_starts_with_the_environment_the_template_gives_it() {
    use std::cell::RefCell;

    use shared::Config;
    let template = template();
    let resolver = Resolver { template: &template, parameters: sample_parameters(&template) };
    let read = RefCell::new(BTreeSet::new());
    for resource in template["Resources"].as_mapping().unwrap().values() {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let binary = resource["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap();
        let env = resolver.environment(resource);
        let config = Config::from_lookup(|name| {
            read.borrow_mut().insert(name.to_owned());
            env.get(name).cloned().or_else(|| lambda_provided(name))
        })
        .unwrap_or_else(|e| panic!("{binary}: {e}"));
        let started = start_function(binary, config).await;
        started.unwrap_or_else(|e| panic!("{binary} cannot start with the template's environment: {e}"));
        // MySQL functions verify the server against the layer's bundle, which the layer ships.
        if let Some(bundle) = env.get("DB_CA_BUNDLE") {
            let layer = bundle.strip_prefix("/opt/").expect("a layer path");
            let content = template["Resources"]["RdsCaLayer"]["Properties"]["ContentUri"].as_str().unwrap();
            let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(content).join(layer);
            assert!(shipped.is_file(), "{binary}: {bundle} is not in the layer ({})", shipped.display());
        }
    }
    let mut read = read.into_inner();
    // Read by the Secrets extension layer, not by our code.
    read.insert("SECRETS_MANAGER_TTL".to_owned());
    for resource in template["Resources"].as_mapping().unwrap().values() {
        for (name, _) in resource["Properties"]["Environment"]["Variables"].as_mapping().into_iter().flatten() {
            let name = name.as_str().unwrap();
            assert!(read.contains(name), "the template sets {name}, which no code reads");
        }
    }
    for (name, _) in template["Globals"]["Function"]["Environment"]["Variables"].as_mapping().unwrap() {
        let name = name.as_str().unwrap();
        assert!(read.contains(name), "the template sets {name}, which no code reads");
    }
    // Credentials never sit in the environment: only secrets' ARNs do. DATABASE_URL is
    // declared for sam local's env.json, and only ever empty in AWS.
    let text = serde_norway::to_string(&template).unwrap();
    for forbidden in ["SIBLING_CLIENT_SECRET", "LOCAL_JWT_SECRET"] {
        assert!(!text.contains(&format!("{forbidden}:")), "{forbidden} in the template");
    }
    assert_eq!(text.matches("DATABASE_URL:").count(), 1, "DATABASE_URL is declared once, in Globals");
    assert_eq!(template["Globals"]["Function"]["Environment"]["Variables"]["DATABASE_URL"].as_str(), Some(""));
}

#[test]
fn a_deploy_runs_the_newest_migration() {
    let template = template();
    let declared = template["Resources"]["SchemaMigration"]["Properties"]["MigrationsVersion"].as_str().unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/migrations/mysql");
    let newest = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().to_string_lossy().split('_').next().map(str::to_owned))
        .max()
        .unwrap();
    assert_eq!(declared, newest, "set SchemaMigration's MigrationsVersion to the newest migration");
}

#[test]
fn data_survives_the_stack_and_every_function_logs_and_alarms() {
    let template = template();
    let resources = template["Resources"].as_mapping().unwrap();
    for (name, resource) in resources {
        let name = name.as_str().unwrap();
        match resource["Type"].as_str().unwrap() {
            "AWS::DynamoDB::Table" => {
                assert_eq!(resource["Properties"]["SSESpecification"]["SSEEnabled"].as_bool(), Some(true), "{name}");
            }
            "AWS::Serverless::Function" => {
                let logs = &resource["Properties"]["LoggingConfig"]["LogGroup"];
                let Value::Tagged(reference) = logs else { panic!("{name} has no log group of its own") };
                let group = reference.value.as_str().unwrap();
                assert_eq!(resources[group]["Type"].as_str(), Some("AWS::Logs::LogGroup"), "{name}");
                assert!(!resources[group]["Properties"]["RetentionInDays"].is_null(), "{group} keeps logs forever");
                for alarm in ["Errors", "Throttles"] {
                    let watched = resources.values().any(|r| {
                        r["Type"].as_str() == Some("AWS::CloudWatch::Alarm")
                            && r["Properties"]["MetricName"].as_str() == Some(alarm)
                            && r["Properties"]["Dimensions"][0]["Value"]
                                == Value::Tagged(Box::new(serde_norway::value::TaggedValue {
                                    tag: serde_norway::value::Tag::new("Ref"),
                                    value: Value::String(name.to_owned()),
                                }))
                    });
                    assert!(watched, "{name} has no {alarm} alarm");
                }
            }
            _ => {}
        }
    }
    for table in ["ChatMessagesTable", "ChatRoomsTable"] {
        let pitr = &resources[table]["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"];
        assert_eq!(pitr.as_bool(), Some(true), "{table} can be recovered");
    }
}

/// A fixed-name resource left behind by a failed first create would make every retry fail with
/// "already exists": each stateful one with a fixed name is kept on delete and on replacement,
/// but not when the stack's own create rolls back (`RetainExceptOnCreate`).
#[test]
fn a_failed_first_create_leaves_nothing_and_a_delete_keeps_the_data() {
    let template = template();
    let mut stateful = 0;
    for (name, resource) in template["Resources"].as_mapping().unwrap() {
        let name = name.as_str().unwrap();
        let fixed_name = match resource["Type"].as_str().unwrap() {
            "AWS::DynamoDB::Table" => &resource["Properties"]["TableName"],
            "AWS::Logs::LogGroup" => &resource["Properties"]["LogGroupName"],
            _ => continue,
        };
        assert!(!fixed_name.is_null(), "{name}: stateful resources here have fixed names");
        stateful += 1;
        assert_eq!(resource["DeletionPolicy"].as_str(), Some("RetainExceptOnCreate"), "{name}");
        assert_eq!(resource["UpdateReplacePolicy"].as_str(), Some("Retain"), "{name}");
    }
    assert_eq!(stateful, 16, "three tables and thirteen log groups");
}

/// What a first deploy into a fresh account needs, and what it must not take from a shared VPC.
#[test]
fn account_and_vpc_wide_resources_are_opt_in() {
    let template = template();
    let parameters = &template["Parameters"];
    let resources = &template["Resources"];
    for (parameter, created) in [
        ("CreateApiGatewayLoggingRole", &["ApiGatewayLoggingRole", "ApiGatewayAccount"][..]),
        ("CreateDynamoDbEndpoint", &["DynamoDbEndpoint"][..]),
        ("CreateVpcEndpoints", &["SecretsManagerEndpoint", "S3Endpoint"][..]),
    ] {
        assert_eq!(parameters[parameter]["Default"].as_str(), Some("false"), "{parameter} is off by default");
        for resource in created {
            assert!(resources[*resource]["Condition"].is_string(), "{resource} exists only when {parameter} says so");
        }
    }
    let account = &resources["ApiGatewayAccount"];
    assert_eq!(account["Type"].as_str(), Some("AWS::ApiGateway::Account"));
    let role = serde_norway::to_string(&resources["ApiGatewayLoggingRole"]).unwrap();
    assert!(role.contains("AmazonAPIGatewayPushToCloudWatchLogs"), "{role}");
    // The stage that writes access logs waits for the account setting when the stack makes it.
    let stage = serde_norway::to_string(&resources["WebSocketStage"]["Properties"]["Description"]).unwrap();
    assert!(stage.contains("ApiGatewayAccount"), "{stage}");
    assert!(
        !template["Rules"]["VpcEndpointsNeedTheVpc"].is_null()
            && !template["Rules"]["DynamoDbEndpointNeedsTheVpc"].is_null()
    );
    let tracing = serde_norway::to_string(&template["Globals"]["Function"]["Tracing"]).unwrap();
    assert!(tracing.contains("Tracing"), "the functions trace as the Tracing parameter says: {tracing}");
}

/// The WebSocket stage deploys after every route (AutoDeploy takes what exists), and each
/// function may be invoked by its own routes only.
#[test]
fn the_websocket_stage_waits_for_its_routes_and_functions_answer_only_theirs() {
    let template = template();
    let resources = template["Resources"].as_mapping().unwrap();
    let routes: Vec<(&str, &Value)> = resources
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::ApiGatewayV2::Route"))
        .map(|(name, r)| (name.as_str().unwrap(), r))
        .collect();
    let depends: BTreeSet<String> = strings(&template["Resources"]["WebSocketStage"]["DependsOn"]);
    for (name, _) in &routes {
        assert!(depends.contains(&name.to_ascii_lowercase()), "the stage does not wait for {name}");
    }
    // Route key → the function its integration invokes.
    let function_of = |route: &Value| -> String {
        let target = route["Properties"]["Target"].clone();
        let text = serde_norway::to_string(&target).unwrap();
        let integration = text.split("integrations/${").nth(1).unwrap().split('}').next().unwrap().to_owned();
        let uri = serde_norway::to_string(&resources[integration.as_str()]["Properties"]["IntegrationUri"]).unwrap();
        uri.split("functions/${").nth(1).unwrap().split('.').next().unwrap().to_owned()
    };
    let permissions: Vec<(String, String)> = resources
        .values()
        .filter(|r| r["Type"].as_str() == Some("AWS::Lambda::Permission"))
        .map(|r| {
            let function = serde_norway::to_string(&r["Properties"]["FunctionName"]).unwrap();
            let source = serde_norway::to_string(&r["Properties"]["SourceArn"]).unwrap();
            (function.trim().trim_start_matches("!Ref").trim().to_owned(), source.trim().to_owned())
        })
        .collect();
    for (name, route) in &routes {
        let key = route["Properties"]["RouteKey"].as_str().unwrap();
        let function = function_of(route);
        let allowed =
            permissions.iter().any(|(f, source)| *f == function && source.ends_with(&format!("/${{Stage}}/{key}")));
        assert!(allowed, "{name}: no permission for {function} on route {key}");
    }
    for (function, source) in &permissions {
        assert!(!source.ends_with("/*"), "{function} may be invoked by any route: {source}");
    }
}

fn repo_file(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `sam local` overrides only variables the template declares: env.json sets nothing else, and
/// every function starts with the template's environment as env.json changes it.
#[tokio::test]
async fn env_json_sets_only_declared_variables_and_every_function_starts_with_it() {
    let template = template();
    let resolver = Resolver { template: &template, parameters: sample_parameters(&template) };
    let env_json: serde_json::Value = serde_json::from_str(&repo_file("env.json")).expect("env.json is JSON");
    let sections = env_json.as_object().expect("an object of sections");
    let declared = |function: &Value| -> BTreeSet<String> {
        [
            &template["Globals"]["Function"]["Environment"]["Variables"],
            &function["Properties"]["Environment"]["Variables"],
        ]
        .into_iter()
        .flat_map(|vars| vars.as_mapping().into_iter().flatten().map(|(name, _)| name.as_str().unwrap().to_owned()))
        .collect()
    };
    let functions: Vec<(&str, &Value)> = template["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::Serverless::Function"))
        .map(|(id, r)| (id.as_str().unwrap(), r))
        .collect();
    for (section, vars) in sections {
        let vars = vars.as_object().expect("a section maps names to values");
        let targets: Vec<_> = if section == "Parameters" {
            functions.iter().collect()
        } else {
            let found: Vec<_> = functions.iter().filter(|(id, _)| id == section).collect();
            assert!(!found.is_empty(), "env.json section {section} is no function of the template");
            found
        };
        for (name, value) in vars {
            assert!(value.is_string(), "{section}.{name}: sam local takes strings");
            assert!(
                targets.iter().any(|(_, f)| declared(f).contains(name)),
                "env.json sets {name}, which the template does not declare, so sam local would ignore it"
            );
        }
    }
    for (id, function) in &functions {
        let mut env = resolver.environment(function);
        let own = declared(function);
        for section in ["Parameters", id] {
            for (name, value) in sections.get(section).and_then(|s| s.as_object()).into_iter().flatten() {
                if own.contains(name) {
                    env.insert(name.clone(), value.as_str().unwrap().to_owned());
                }
            }
        }
        let binary = function["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap();
        // sam local sets credentials of its own; LocalStack accepts any.
        let config = shared::Config::from_lookup(|name| env.get(name).cloned().or_else(|| lambda_provided(name)))
            .unwrap_or_else(|e| panic!("{binary} under sam local: {e}"));
        if env.contains_key("DATABASE_SECRET_ARN") {
            assert!(
                matches!(config.database, Some(shared::config::DatabaseSettings::MySql { .. })),
                "{binary}: env.json gives it DATABASE_URL in place of the secret"
            );
        }
        if env.contains_key("DYNAMODB_TABLE_CHATS") {
            assert_eq!(config.ddb_endpoint_url.as_deref(), Some("http://host.docker.internal:4566"), "{binary}");
        }
        start_function(binary, config).await.unwrap_or_else(|e| panic!("{binary} cannot start under sam local: {e}"));
    }
}

/// docker-compose.yml publishes what env.json points at, and its bootstrap makes the tables and
/// the database env.json names.
#[test]
fn docker_compose_serves_what_env_json_points_at() {
    let compose: Value = serde_norway::from_str(&repo_file("docker-compose.yml")).expect("docker-compose.yml is YAML");
    let env_json: serde_json::Value = serde_json::from_str(&repo_file("env.json")).unwrap();
    let local = &env_json["Parameters"];
    let services = &compose["services"];
    let published = |service: &str| -> BTreeSet<String> {
        services[service]["ports"].as_sequence().unwrap().iter().map(|p| p.as_str().unwrap().to_owned()).collect()
    };
    assert!(published("mysql").contains("3307:3306"));
    assert!(published("localstack").contains("4566:4566"));
    for service in ["mysql", "localstack"] {
        assert!(!services[service]["healthcheck"]["test"].is_null(), "{service} has a health check");
        assert!(
            services[service]["image"].as_str().unwrap().rsplit_once(':').is_some_and(|(_, tag)| tag != "latest"),
            "{service}'s image is pinned"
        );
    }
    assert!(services["mysql"]["image"].as_str().unwrap().starts_with("mysql:8"), "RDS runs MySQL 8");

    let bootstrap = &services["bootstrap"];
    for dependency in ["mysql", "localstack"] {
        assert_eq!(bootstrap["depends_on"][dependency]["condition"].as_str(), Some("service_healthy"));
    }
    let vars: std::collections::HashMap<String, String> = bootstrap["environment"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str().unwrap().to_owned(), v.as_str().unwrap().to_owned()))
        .collect();
    let bootstrapped = shared::Config::from_lookup(|name| vars.get(name).cloned()).expect("the bootstrap's settings");
    let functions = shared::Config::from_lookup(|name| local[name].as_str().map(str::to_owned)).unwrap();
    assert_eq!(shared::aws::dynamo_tables(&bootstrapped), shared::aws::dynamo_tables(&functions));
    assert_eq!(bootstrapped.ddb_endpoint_url.as_deref(), Some("http://localstack:4566"));
    // The same database, the bootstrap as root and the functions as the compose file's user.
    let database = |config: &shared::Config| match &config.database {
        Some(shared::config::DatabaseSettings::MySql { url }) => url.rsplit('/').next().unwrap().to_owned(),
        other => panic!("a MySQL URL, not {other:?}"),
    };
    assert_eq!(database(&bootstrapped), database(&functions));
    let mysql = &services["mysql"]["environment"];
    assert_eq!(mysql["MYSQL_DATABASE"].as_str(), Some(database(&functions).as_str()));
    let user = format!(
        "mysql://{}:{}@host.docker.internal:3307/",
        mysql["MYSQL_USER"].as_str().unwrap(),
        mysql["MYSQL_PASSWORD"].as_str().unwrap()
    );
    assert!(local["DATABASE_URL"].as_str().unwrap().starts_with(&user), "env.json logs in as {user}");
    // LocalStack keeps tables per region: sam local must name the one the bootstrap used, and
    // pass env.json (without it, a function would reach real DynamoDB).
    let samconfig = repo_file("samconfig.toml");
    for section in ["[local.local_start_api.parameters]", "[local.local_invoke.parameters]"] {
        let setting = |key: &str| -> Option<String> {
            let body = samconfig.split(section).nth(1)?.split("\n[").next()?;
            body.lines().find_map(|line| {
                let (name, value) = line.split_once('=')?;
                (name.trim() == key).then(|| value.trim().trim_matches('"').to_owned())
            })
        };
        assert_eq!(setting("region").as_deref(), Some(bootstrapped.aws_region.as_str()), "{section} region");
        assert_eq!(setting("env_vars").as_deref(), Some("env.json"), "{section} env_vars");
        assert!(setting("add_host").is_some_and(|h| h.contains("host.docker.internal:host-gateway")), "{section}");
    }
}
