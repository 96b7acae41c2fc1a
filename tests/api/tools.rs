//! What this `cargo test` run left out for want of an outside tool, said where it is seen: a
//! block on stderr past the harness's capture. Plain `cargo test` needs only the Rust
//! toolchain and never fails for a missing tool; `.ci/run` installs them all and sets
//! `AGENTSEND_TEST_TOOLS=required`, which makes a missing one a failure.

use std::io::Write;

use crate::helpers::tool_found;

/// A suite or check that needs an outside tool: what it is, the probe that finds the tool,
/// and how to get it.
struct Tool {
    suite: &'static str,
    tool: &'static str,
    probe: &'static [&'static str],
    install: &'static str,
}

const TOOLS: &[Tool] = &[
    Tool {
        suite: "the dkimpy cross-check of DKIM signatures (dkim::*; cfdkim checks them anyway)",
        tool: "dkimpy",
        probe: &["python3", "-c", "import dkim"],
        install: "python3 -m pip install dkimpy",
    },
    Tool {
        suite: "the Python fixture helper's own tests (clients/python)",
        tool: "pytest",
        probe: &["python3", "-m", "pytest", "--version"],
        install: "python3 -m pip install pytest",
    },
    Tool {
        suite: "the Node fixture helper's own tests (clients/node)",
        tool: "Node.js",
        probe: &["node", "--version"],
        install: "install Node.js (e.g. apt-get install nodejs)",
    },
    Tool {
        suite: "the web interface in a real browser (cargo test --test browser)",
        tool: "chromium and chromedriver",
        probe: &["sh", "-c", "chromium --version && chromedriver --version"],
        install: "apt-get install chromium chromium-driver",
    },
    Tool {
        suite: "the accessibility checks of the browser suite (axe-core)",
        tool: "axe-core",
        probe: &[
            "sh",
            "-c",
            "test -f \"${AGENTSEND_AXE_JS:-target/ui-tools/node_modules/axe-core/axe.min.js}\"",
        ],
        install: "npm install --prefix target/ui-tools axe-core@4 (or set AGENTSEND_AXE_JS)",
    },
];

#[test]
fn the_run_says_which_suites_it_left_out_for_want_of_a_tool() {
    let mut report = String::new();
    for t in TOOLS.iter().filter(|t| !tool_found(t.probe)) {
        assert!(
            std::env::var("AGENTSEND_TEST_TOOLS").as_deref() != Ok("required"),
            "{} is required (AGENTSEND_TEST_TOOLS=required) but `{}` failed",
            t.tool,
            t.probe.join(" ")
        );
        report.push_str(&format!(
            "  - NOT RUN: {} needs {} (`{}` failed); to run it: {}, then cargo test\n",
            t.suite,
            t.tool,
            t.probe.join(" "),
            t.install
        ));
    }
    if crate::backend::postgres() {
        for (test, why) in crate::backend::SQLITE_ONLY {
            report.push_str(&format!(
                "  - NOT RUN against PostgreSQL: {test} ({why}; it runs against SQLite)\n"
            ));
        }
    } else {
        report.push_str(&format!(
            "  - NOT RUN: the suite against PostgreSQL, with its tests of several nodes on one \
             database (nodes::*, and two server processes, one killed under load: \
             crash::a_node_killed_under_load_loses_nothing_and_its_claims_go_to_the_other_once); \
             to run it: set {}=postgres://USER@HOST:PORT/postgres (a user \
             that may create databases), then cargo test --test api (.ci/run does)\n",
            crate::backend::VARIABLE
        ));
        report.push_str(
            "  - NOT RUN: the move of an SQLite database into PostgreSQL (migrate_to::an_sqlite_\
             database_moves_to_postgresql_whole_verified_and_served_from_there), which needs \
             that server too\n",
        );
    }
    report.push_str(
        "  - not part of cargo test: the API fuzzer, tests/fuzz/run.sh (schemathesis against a \
         fixture; python3 -m pip install schemathesis, then run it after cargo test)\n",
    );
    let _ = write!(
        std::io::stderr(),
        "\n==== suites that need outside tools (.ci/run installs them and runs them all) ====\n\
         {report}\
         ================================================================================\n"
    );
}
