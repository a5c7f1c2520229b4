package workspace_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/picosess/picosess/workspace"
	"github.com/picosess/picosess/workspace/redisstore/redistest"
)

func init() {
	if os.Getenv("PICOSESS_TEST_STORE") == "redis" {
		workspace.SetTestStore(func(t testing.TB) workspace.Store { return redistest.Open(t) })
	}
}

// onRedis are the workspace tests that also run on a Redis store: those
// that go through the package's API only. The others look at the session
// files themselves (their bytes, torn tails, locks, permissions, injected
// disk faults, repair and conversion, which a store refuses).
var onRedis = []string{
	"TestActiveAppliesTheAgentsLimits",
	"TestAddAliasesAndLookup",
	"TestAppendAfterCorruptLineBeforeHeader",
	"TestAppendAfterRefusedWritesNothing",
	"TestAppendAfterSeesOnlyWhatCameSince",
	"TestAppendFillsAndKeepsRecords",
	"TestAppendIfChecksReferences",
	"TestAppendToTrashedSession",
	"TestAppendTurnAt",
	"TestAppendTurnCarrySummary",
	"TestAppendTurnDailyOnly",
	"TestAppendTurnIdleAndDaily",
	"TestAppendTurnTriggers",
	"TestAppendValidatesRecords",
	"TestCheckpoints",
	"TestCleanupDryRunChangesNothing",
	"TestCleanupEveryAppliesTheConfig",
	"TestCleanupFromConfig",
	"TestCleanupPurgeAfter",
	"TestCleanupTrashIfIdle",
	"TestCleanupWrittenMeanwhile",
	"TestConcurrentTurnsStayTogether",
	"TestContinueALegacySession",
	"TestEncryptedRoundTrip",
	"TestGoldenFormat",
	"TestHistoryFold",
	"TestHistoryPage",
	"TestHistoryStreamIsHistory",
	"TestHistoryStreamStops",
	"TestList",
	"TestLookup",
	"TestLookupAmbiguousPrefix",
	"TestLookupRef",
	"TestMessageConstructors",
	"TestMetaActiveAgreesWithHistory",
	"TestOpenLockFilesAreBounded",
	"TestPolicyReportAndSend",
	"TestPurgeSelections",
	"TestRecordSizeLimit",
	"TestRecordsPage",
	"TestRouteAdoptsImportedConversation",
	"TestRouteDoesNotAdoptAmbiguousOrForeign",
	"TestRouteMatchesKeying",
	"TestSessionForRoute",
	"TestSummaryKeepLast",
	"TestTitles",
	"TestTrash",
	"TestUpdateAndTurnValidate",
	"TestUpdateDecidesUnderTheLock",
	"TestUpdatedIsTheLastMessage",
	"TestUsageRefused",
	"TestUsageRoundTrip",
	"TestWatchReady",
}

// TestSuiteOnRedis runs the tests of onRedis again, in a child process,
// with every workspace they open on the Redis test server.
func TestSuiteOnRedis(t *testing.T) {
	if os.Getenv("PICOSESS_TEST_STORE") != "" {
		t.Skip("the child run itself")
	}
	url := redistest.URL(t)
	if testing.Short() {
		t.Skip("-short")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^("+strings.Join(onRedis, "|")+")$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "PICOSESS_TEST_STORE=redis", redistest.Env+"="+url)
	out, err := cmd.CombinedOutput()
	passed := strings.Count(string(out), "--- PASS")
	if err != nil {
		t.Fatalf("the workspace tests on Redis failed: %v\n%s", err, out)
	}
	if marks := strings.Count(string(out), "workspace on the test store"); marks < len(onRedis) {
		t.Fatalf("%d tests opened a workspace on the store, want at least %d:\n%s", marks, len(onRedis), out)
	}
	if passed < len(onRedis) {
		t.Fatalf("%d tests passed on Redis, want at least %d:\n%s", passed, len(onRedis), out)
	}
	t.Logf("%d workspace tests (and subtests) passed on Redis", passed)
}
