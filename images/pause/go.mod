module dbm.local/pause

go 1.22
