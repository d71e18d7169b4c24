module hitless

go 1.26
