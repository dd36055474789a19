package server

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
)

var durationType = reflect.TypeOf(time.Duration(0))

// strictScalars is the decode hook that makes every scalar key take only
// its own type. viper decodes weakly (true becomes 1, 8.5 becomes 8, 5 a
// duration of 5ns, 42 the string "42"); this hook runs before that and
// refuses all of it, so the weak rules that remain only wrap a single
// value into a list. Durations are strings with a unit. With parseStrings
// (environment variables, which are always strings) a string may also
// spell an integer or a boolean, parsed strictly.
func strictScalars(parseStrings bool) mapstructure.DecodeHookFuncValue {
	return func(from, to reflect.Value) (any, error) {
		data := from.Interface()
		if to.Type() == durationType {
			return strictDuration(data)
		}
		switch to.Kind() {
		case reflect.Bool:
			return strictBool(data, parseStrings)
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			return strictInt(data, parseStrings)
		case reflect.String:
			if _, ok := data.(string); !ok {
				return nil, fmt.Errorf("want a string, got %s", describe(data))
			}
		}
		return data, nil
	}
}

func strictDuration(data any) (any, error) {
	s, ok := data.(string)
	if !ok {
		return nil, fmt.Errorf("want a duration with a unit such as 500ms, 6s, 2m or 168h, got %s", describe(data))
	}
	return parseDuration(s)
}

// parseDuration reads a Go duration and refuses a bare number ("5", even
// "0"): a duration without a unit is a mistake, not nanoseconds.
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return 0, fmt.Errorf("%q has no unit: write a duration such as %ss or %sms", s, s, s)
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration such as 500ms, 6s, 2m or 168h", s)
	}
	return d, nil
}

func strictBool(data any, parseStrings bool) (any, error) {
	switch v := data.(type) {
	case bool:
		return v, nil
	case string:
		if parseStrings {
			if b, err := strconv.ParseBool(strings.TrimSpace(v)); err == nil {
				return b, nil
			}
		}
	}
	return nil, fmt.Errorf("want true or false, got %s", describe(data))
}

// strictInt accepts integers, and floats only when whole (JSON numbers
// are floats): 8.5 partitions is a mistake, not 8.
func strictInt(data any, parseStrings bool) (any, error) {
	switch v := data.(type) {
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return v, nil
	case float32:
		return wholeFloat(float64(v))
	case float64:
		return wholeFloat(v)
	case string:
		if parseStrings {
			if i, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
				return i, nil
			}
		}
	}
	return nil, fmt.Errorf("want an integer, got %s", describe(data))
}

func wholeFloat(f float64) (any, error) {
	if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return nil, fmt.Errorf("want an integer, got %v", f)
	}
	return int64(f), nil
}

// describe names a wrong value the way the config file spells it.
func describe(data any) string {
	switch v := data.(type) {
	case string:
		return fmt.Sprintf("the string %q", v)
	case bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
		return fmt.Sprint(v)
	}
	switch reflect.ValueOf(data).Kind() {
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a map"
	}
	return fmt.Sprintf("%T", data)
}
