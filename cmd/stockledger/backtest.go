package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/stockledger/stockledger/processors/audit"
)

func backtestCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("backtest", "backtest --policies FILE [--until-time T | --until-offset P:O,...] [--format table|json] [--brokers a,b] [--topic-prefix P]", stderr)
	af := addAuditFlags(fs)
	sf := addStopFlags(fs)
	file := fs.String("policies", "", "channel policies to backtest: JSON Lines, one channel_policy a line ({\"channel\":\"amazon\",\"locations\":[],\"buffer\":5,\"share_pct\":100,\"max_qty\":25}); channels not in it keep their real policies (required)")
	format := fs.String("format", "table", "output: table or json")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return exitError{2, fmt.Errorf("backtest: unexpected argument %q", pos[0])}
	}
	if *file == "" {
		fs.Usage()
		return exitError{2, fmt.Errorf("backtest: --policies FILE is required")}
	}
	if *format != "table" && *format != "json" {
		return exitError{2, fmt.Errorf("--format %q: want table or json", *format)}
	}
	stop, err := sf.stop()
	if err != nil {
		return exitError{2, err}
	}
	cfg, err := af.config(ctx)
	if err != nil {
		return err
	}
	f, err := os.Open(*file)
	if err != nil {
		return exitError{2, err}
	}
	policies, err := audit.ParsePolicies(f)
	f.Close()
	if err != nil {
		return exitError{2, fmt.Errorf("%s: %w", *file, err)}
	}
	var prog audit.Progress
	stopBar := startProgress(stderr, *af.quiet, "backtest", &prog)
	res, err := audit.Backtest(ctx, cfg, policies, stop, &prog)
	stopBar()
	if err != nil {
		return explainKafkaErr(err)
	}
	if *format == "json" {
		type row struct {
			Channel          string `json:"channel"`
			ActualPolicy     string `json:"actual_policy"`
			BacktestPolicy   string `json:"backtest_policy"`
			Sales            int64  `json:"sales"`
			ActualOversold   int64  `json:"actual_oversold_orders"`
			BacktestOversold int64  `json:"backtest_oversold_orders"`
			TurnedAway       int64  `json:"backtest_orders_turned_away"`
			UnitsWithheld    int64  `json:"backtest_units_withheld"`
		}
		out := struct {
			Records  int64            `json:"records"`
			Next     map[string]int64 `json:"next_offsets"`
			Channels []row            `json:"channels"`
		}{Records: res.Records, Next: map[string]int64{}, Channels: []row{}}
		for p, o := range res.Next {
			out.Next[strconv.Itoa(int(p))] = o
		}
		for _, c := range res.Channels {
			out.Channels = append(out.Channels, row{c.Channel, c.Actual, c.Backtest, c.Sales, c.ActualOversold, c.BacktestOversold, c.TurnedAway, int64(c.UnitsWithheld)})
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	fmt.Fprintf(stdout, "backtest of %s events (offsets %s)\n\n", thousands(res.Records), audit.FormatOffsets(res.Next))
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CHANNEL\tSALES\tOVERSOLD actual\tOVERSOLD backtest\tTURNED AWAY\tUNITS WITHHELD\tPOLICY actual -> backtest")
	for _, c := range res.Channels {
		pol := orDash(c.Actual)
		if c.Backtest != c.Actual {
			pol += " -> " + orDash(c.Backtest)
		} else {
			pol += " (unchanged)"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%s\n", c.Channel, c.Sales, c.ActualOversold, c.BacktestOversold, c.TurnedAway, c.UnitsWithheld, pol)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "\n"+strings.TrimSpace(`
oversold: sales (orders, pos_sales) that raised an oversold alert. turned away: orders the backtest's
policy would not have taken (it offered fewer units than asked and fewer than the channel really
offered); units withheld: their units. History itself turns nothing away. ledger/DECISIONS.md, Backtests.`))
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
