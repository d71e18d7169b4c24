package runtimeapi

import (
	"bufio"
	"fmt"
	"strings"

	"hitless/internal/stats"
)

// writeInfo prints the `show info` fields: "Name: value" lines, or with typed
// "<pos>.<Name>.1:<tags>:<type>:<value>" lines, or with json one array of objects,
// the positions, tags and types being HAProxy 2.6's.
func writeInfo(w *bufio.Writer, fields []Field, format string) {
	if format == "json" {
		w.WriteByte('[')
	}
	n := 0
	for _, f := range fields {
		m, ok := infoMeta[f.Name]
		switch {
		case format == "" || !ok:
			if format != "" {
				continue // no position to give it
			}
			w.WriteString(f.Name)
			w.WriteString(": ")
			w.WriteString(f.Value)
			w.WriteByte('\n')
		case format == "typed":
			fmt.Fprintf(w, "%d.%s.1:%s:%s:%s\n", m.pos, f.Name, m.tags(), m.kind(), f.Value)
		default:
			if n++; n > 1 {
				w.WriteByte(',')
			}
			origin, nature, scope := stats.TagWords(m.tags())
			fmt.Fprintf(w, `{"field":{"pos":%d,"name":"%s"},"processNum":1,"tags":{"origin":"%s","nature":"%s","scope":"%s"},"value":{"type":"%s","value":`,
				m.pos, f.Name, origin, nature, scope, m.kind())
			stats.WriteJSONValue(w, m.kind(), f.Value)
			w.WriteString("}}")
		}
	}
	if format == "json" {
		w.WriteString("]\n")
	}
}

// infoField is a `show info` field's position and "tags:type" in HAProxy 2.6.
type infoField struct {
	pos  int
	meta string
}

func (f infoField) tags() string { t, _, _ := strings.Cut(f.meta, ":"); return t }
func (f infoField) kind() string { _, k, _ := strings.Cut(f.meta, ":"); return k }

// infoMeta is each `show info` field's position, tags and type, as HAProxy 2.6.12
// prints them with `show info typed` (captured).
var infoMeta = map[string]infoField{
	"Name":                        {0, "POS:str"},
	"Version":                     {1, "POS:str"},
	"Release_date":                {2, "POS:str"},
	"Nbthread":                    {3, "CGS:u32"},
	"Nbproc":                      {4, "CGS:u32"},
	"Process_num":                 {5, "KGP:u32"},
	"Pid":                         {6, "SGP:u32"},
	"Uptime":                      {7, "MDP:str"},
	"Uptime_sec":                  {8, "MDP:u32"},
	"Memmax_MB":                   {9, "CLP:u32"},
	"PoolAlloc_MB":                {10, "MGP:u32"},
	"PoolUsed_MB":                 {11, "MGP:u32"},
	"PoolFailed":                  {12, "MCP:u32"},
	"Ulimit-n":                    {13, "CLP:u32"},
	"Maxsock":                     {14, "CLP:u32"},
	"Maxconn":                     {15, "CLP:u32"},
	"Hard_maxconn":                {16, "CLP:u32"},
	"CurrConns":                   {17, "MGP:u32"},
	"CumConns":                    {18, "MCP:u32"},
	"CumReq":                      {19, "MCP:u32"},
	"MaxSslConns":                 {20, "MMP:u32"},
	"CurrSslConns":                {21, "MGP:u32"},
	"CumSslConns":                 {22, "MCP:u32"},
	"Maxpipes":                    {23, "CLP:u32"},
	"PipesUsed":                   {24, "MGP:u32"},
	"PipesFree":                   {25, "MGP:u32"},
	"ConnRate":                    {26, "MRP:u32"},
	"ConnRateLimit":               {27, "CLP:u32"},
	"MaxConnRate":                 {28, "MMP:u32"},
	"SessRate":                    {29, "MRP:u32"},
	"SessRateLimit":               {30, "CLP:u32"},
	"MaxSessRate":                 {31, "MRP:u32"},
	"SslRate":                     {32, "MRP:u32"},
	"SslRateLimit":                {33, "CLP:u32"},
	"MaxSslRate":                  {34, "MMP:u32"},
	"SslFrontendKeyRate":          {35, "MGP:u32"},
	"SslFrontendMaxKeyRate":       {36, "MMP:u32"},
	"SslFrontendSessionReuse_pct": {37, "MGP:u32"},
	"SslBackendKeyRate":           {38, "MRP:u32"},
	"SslBackendMaxKeyRate":        {39, "MMP:u32"},
	"SslCacheLookups":             {40, "MCP:u32"},
	"SslCacheMisses":              {41, "MCP:u32"},
	"CompressBpsIn":               {42, "MRP:u32"},
	"CompressBpsOut":              {43, "MRP:u32"},
	"CompressBpsRateLim":          {44, "CLP:u32"},
	"Tasks":                       {47, "MGP:u32"},
	"Run_queue":                   {48, "MGP:u32"},
	"Idle_pct":                    {49, "MaP:u32"},
	"node":                        {50, "COS:str"},
	"Stopping":                    {52, "MGP:u32"},
	"Jobs":                        {53, "MGP:u32"},
	"Unstoppable Jobs":            {54, "MGP:u32"},
	"Listeners":                   {55, "MGP:u32"},
	"ActivePeers":                 {56, "MGP:u32"},
	"ConnectedPeers":              {57, "MGP:u32"},
	"DroppedLogs":                 {58, "MGP:u32"},
	"BusyPolling":                 {59, "MGP:u32"},
	"FailedResolutions":           {60, "MGP:u32"},
	"TotalBytesOut":               {61, "MGP:u64"},
	"TotalSplicdedBytesOut":       {62, "MGP:u64"},
	"BytesOutRate":                {63, "MRP:u64"},
	"DebugCommandsIssued":         {64, "MGP:u32"},
	"CumRecvLogs":                 {65, "MCP:u32"},
	"Build info":                  {66, "POS:str"},
	"Memmax_bytes":                {67, "CLP:u32"},
	"PoolAlloc_bytes":             {68, "MGP:u64"},
	"PoolUsed_bytes":              {69, "MGP:u64"},
	"Start_time_sec":              {70, "MDP:u32"},
	"Tainted":                     {71, "SGP:str"},
}
