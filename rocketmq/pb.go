package rocketmq

import (
	"time"

	v2 "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func timestamp(t time.Time) *timestamppb.Timestamp { return timestamppb.New(t) }

func duration(d time.Duration) *durationpb.Duration { return durationpb.New(d) }

func ok() *v2.Status { return &v2.Status{Code: v2.Code_OK, Message: "OK"} }

func status(code v2.Code, msg string) *v2.Status { return &v2.Status{Code: code, Message: msg} }
