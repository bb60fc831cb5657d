// Steps every dwops pipeline shares, written once.  A pipeline loads it
// from its own checkout (the workspace holds this repository: the pipelines
// build the operators from it):
//
//     def dwops
//     ...
//     script { dwops = load 'jenkins/dwops.groovy' }
//
// Secrets never pass through here: an operator's request names the
// environment variables that hold them (*_env fields), and the shell steps
// below are single-quoted, reading what they need from the environment.

// The id of the user who started this build.  A build started by a timer
// or by another job has no user and is refused with why (e.g. "it destroys
// the copy of the user who starts it").
String buildOwner(String why) {
    def causes = currentBuild.getBuildCauses('hudson.model.Cause$UserIdCause')
    if (!causes) {
        error("Start this job by hand: ${why}.")
    }
    return causes[0].userId
}

// Run bin/<operator> <action> --request <request>, keep the operator's
// result (the last line of its stdout) pretty-printed in
// build/<name>-result.json and show it in the log, and return the exit
// code.  An exit code not in okCodes fails the build, naming it; the result
// file is kept either way (archive it in post { always { ... } }).
// Exit codes: 0 done, 2 rejected, 1 failed, 75 temporary, 99 nothing to do.
int runOperator(String operator, String action, String request, String name,
                List okCodes = [0]) {
    int rc = 0
    withEnv(["DW_RUN_OPERATOR=${operator}", "DW_RUN_ACTION=${action}",
             "DW_RUN_REQUEST=${request}", "DW_RUN_NAME=${name}"]) {
        rc = sh(returnStatus: true, script: '''#!/bin/bash
            set -uo pipefail
            mkdir -p build
            rc=0
            "bin/$DW_RUN_OPERATOR" "$DW_RUN_ACTION" --request "$DW_RUN_REQUEST" \
                > "build/$DW_RUN_NAME.out" || rc=$?
            tail -n 1 "build/$DW_RUN_NAME.out" | jq . > "build/$DW_RUN_NAME-result.json" || \
                echo "$DW_RUN_OPERATOR $DW_RUN_ACTION printed no JSON result" >&2
            cat "build/$DW_RUN_NAME-result.json"
            exit "$rc"
        ''')
    }
    if (!okCodes.contains(rc)) {
        error("${operator} ${action} exited ${rc}: see the result above")
    }
    return rc
}

// In post { failure { ... } }: publish one alert with dw-alert notify, to
// the SNS topic in DWOPS_ALERT_TOPIC_ARN (the agent's or the job's
// environment; unset: says so and sends nothing).  The alert carries the
// build (build: [job: env.JOB_NAME, number: env.BUILD_NUMBER, url:
// env.BUILD_URL]) and the result of the operator that failed: the newest
// build/*-result.json whose "ok" is false (runOperator keeps them); a build
// that failed outside an operator sends a plain "failed" alert.  Never fails
// the build further: returns dw-alert's exit code (0 sent).
int notifyFailure(Map build) {
    int rc = 0
    withEnv(["DW_ALERT_JOB=${build.job ?: ''}", "DW_ALERT_BUILD=${build.number ?: ''}",
             "DW_ALERT_BUILD_URL=${build.url ?: ''}"]) {
        rc = sh(returnStatus: true, script: '''#!/bin/bash
            set -uo pipefail
            if [ -z "${DWOPS_ALERT_TOPIC_ARN:-}" ]; then
                echo "DWOPS_ALERT_TOPIC_ARN is not set: no alert sent"; exit 0
            fi
            if [ ! -x bin/dw-alert ]; then
                echo "bin/dw-alert was not built: no alert sent" >&2; exit 1
            fi
            mkdir -p build
            failed=""
            for f in $(ls -t build/*-result.json 2>/dev/null); do
                if [ "$(jq -r '.ok' "$f" 2>/dev/null)" = "false" ]; then failed="$f"; break; fi
            done
            jq -n --arg topic "$DWOPS_ALERT_TOPIC_ARN" --arg job "$DW_ALERT_JOB" \
                --arg num "$DW_ALERT_BUILD" --arg url "$DW_ALERT_BUILD_URL" --arg res "$failed" '
                {action: "notify", topic_arn: $topic, source: "jenkins",
                 context: {job: $job, build: $num, build_url: $url}}
                + (if $url != "" then {link: $url} else {} end)
                + (if $res != "" then {result_file: $res}
                   else {subject: ("Jenkins " + $job + " #" + $num + " failed"),
                         text: "the build failed outside a dwops operator"} end)' \
                > build/alert-notify.json
            rc=0
            bin/dw-alert notify --request build/alert-notify.json > build/alert-notify.out || rc=$?
            tail -n 1 build/alert-notify.out
            exit "$rc"
        ''')
    }
    if (rc != 0 && rc != 99) {
        echo "dw-alert notify exited ${rc}: the failure alert was not sent"
    }
    return rc
}

return this
