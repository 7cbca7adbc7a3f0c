//! The first chat request after a cold start (run through `scripts/bench first_chat_request`;
//! figures in BENCHMARKS.md): a freshly built chat function (new HTTP client, empty membership
//! cache) answers `GET /chat/42/messages` for a member, over the DynamoDB emulator, while the
//! loopback Project and Team services answer each call after 5 ms. What it shows is the sibling
//! round trips an uncached membership check costs. Prints the median and p90 of 100 cold requests
//! and the sibling calls each made.

use std::time::{Duration, Instant};

use service_tests::{Answer, Function, TestDb, TestEnv, Who};

const WARMUP: usize = 5;
const RUNS: usize = 100;
const STAND_IN_DELAY: Duration = Duration::from_millis(5);
const MEMBER: &str = "3f2504e0-4f89-11d3-9a0c-0305e82c3301";

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

#[tokio::main]
async fn main() {
    let env = TestEnv::new(TestDb::sqlite()).await;
    // Project 42's team has its own id (420), the member in it.
    env.siblings.project(42, "벤치마크", MEMBER, &[]);
    env.siblings.answer_project(Answer::Slow(STAND_IN_DELAY));
    env.siblings.answer_team(Answer::Slow(STAND_IN_DELAY));
    let member = Who::User(MEMBER.into());
    let mut samples = Vec::with_capacity(RUNS);
    let mut calls_per_request = 0;
    for i in 0..WARMUP + RUNS {
        // A cold start: the function is built anew, as a new sandbox builds it.
        let router = Function::Chat.build(env.config()).await;
        let before = env.siblings.calls().len();
        let started = Instant::now();
        let reply = service_tests::send_event(
            &router,
            &service_tests::gateway_event("GET", "/chat/42/messages", &member, None).to_string(),
        )
        .await;
        let took = started.elapsed();
        reply.assert_ok(200, "MESSAGES_LISTED");
        calls_per_request = env.siblings.calls().len() - before;
        if i >= WARMUP {
            samples.push(took);
        }
    }
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q).ceil() as usize).saturating_sub(1)];
    println!(
        "first_chat_request: {calls_per_request} sibling call(s) of {} ms: median {:.2} ms, p90 {:.2} ms, max {:.2} ms over {RUNS} cold starts",
        STAND_IN_DELAY.as_millis(),
        ms(at(0.50)),
        ms(at(0.90)),
        ms(samples[samples.len() - 1]),
    );
}
