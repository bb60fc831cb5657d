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

return this
