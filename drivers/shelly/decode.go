package shelly

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/evbridge/evbridge/bridge/meter"
)

// emStatus is the part of EM.GetStatus the driver uses. Pointers tell a
// missing or null key from a zero.
type emStatus struct {
	ACurrent      *float64 `json:"a_current"`
	BCurrent      *float64 `json:"b_current"`
	CCurrent      *float64 `json:"c_current"`
	AVoltage      *float64 `json:"a_voltage"`
	BVoltage      *float64 `json:"b_voltage"`
	CVoltage      *float64 `json:"c_voltage"`
	AActPower     *float64 `json:"a_act_power"`
	BActPower     *float64 `json:"b_act_power"`
	CActPower     *float64 `json:"c_act_power"`
	TotalActPower *float64 `json:"total_act_power"`
	Errors        []string `json:"errors"`
}

// emData is the part of EMData.GetStatus the driver uses: lifetime
// counters in Wh.
type emData struct {
	TotalAct    *float64 `json:"total_act"`
	TotalActRet *float64 `json:"total_act_ret"`
}

// fatal tells the EM errors after which the values mean nothing
// (VERIFY: the full list of EM errors is not documented).
func fatal(e string) bool { return e == "power_meter_failure" }

// parseEMStatus decodes an EM.GetStatus result. notes are the errors
// the device reports that leave its values usable. Currents take the
// sign of their phase's active power, so an exporting phase has a
// negative current, as Power does.
func parseEMStatus(body []byte) (r meter.Reading, notes []string, err error) {
	var st emStatus
	if err := json.Unmarshal(body, &st); err != nil {
		return meter.Reading{}, nil, fmt.Errorf("decode EM.GetStatus: %w", err)
	}
	for _, e := range st.Errors {
		if fatal(e) {
			return meter.Reading{}, nil, fmt.Errorf("device reports %q", e)
		}
		notes = append(notes, e)
	}
	if st.TotalActPower == nil {
		return meter.Reading{}, nil, errors.New("no total_act_power in EM.GetStatus")
	}
	p := *st.TotalActPower
	r.Power = &p
	powers := []*float64{st.AActPower, st.BActPower, st.CActPower}
	for i, c := range []*float64{st.ACurrent, st.BCurrent, st.CCurrent} {
		if c == nil {
			break
		}
		a := math.Abs(*c)
		if powers[i] != nil && *powers[i] < 0 {
			a = -a
		}
		r.Currents = append(r.Currents, a)
	}
	for _, v := range []*float64{st.AVoltage, st.BVoltage, st.CVoltage} {
		if v == nil {
			break
		}
		r.Voltages = append(r.Voltages, *v)
	}
	if err := meter.CheckReading(r); err != nil {
		return meter.Reading{}, nil, err
	}
	return r, notes, nil
}

// parseEMData decodes an EMData.GetStatus result into kWh counters; a
// missing counter is nil.
func parseEMData(body []byte) (imp, exp *float64, err error) {
	var d emData
	if err := json.Unmarshal(body, &d); err != nil {
		return nil, nil, fmt.Errorf("decode EMData.GetStatus: %w", err)
	}
	kwh := func(wh *float64) *float64 {
		if wh == nil {
			return nil
		}
		v := *wh / 1000
		return &v
	}
	imp, exp = kwh(d.TotalAct), kwh(d.TotalActRet)
	if err := meter.CheckReading(meter.Reading{EnergyImport: imp, EnergyExport: exp}); err != nil {
		return nil, nil, err
	}
	return imp, exp, nil
}
