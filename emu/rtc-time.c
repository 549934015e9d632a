// SPDX-License-Identifier: MIT
/* Calendar arithmetic for the RTC: days since 1970-01-01 in the proleptic
 * Gregorian calendar (the well-known era-based algorithm: 400-year eras
 * of 146,097 days, years starting in March so the leap day comes last). */
#include "emu/rtc.h"

static int64_t floor_div(int64_t a, int64_t b) {
        return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

int64_t rtc_days_from_civil(int64_t y, unsigned m, unsigned d) {
        y -= m <= 2;
        int64_t era = floor_div(y, 400);
        int64_t yoe = y - era * 400;                                          /* [0, 399] */
        int64_t doy = (153 * (int64_t)(m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* [0, 365] */
        int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;                    /* [0, 146096] */
        return era * 146097 + doe - 719468;
}

void rtc_civil_from_seconds(int64_t sec, struct rtc_date *out) {
        int64_t days = floor_div(sec, 86400), tod = sec - days * 86400;
        out->hour = (unsigned)(tod / 3600);
        out->minute = (unsigned)(tod / 60 % 60);
        out->second = (unsigned)(tod % 60);
        /* 1970-01-01 was a Thursday (4). */
        out->weekday = (unsigned)(((days % 7) + 11) % 7);
        int64_t z = days + 719468;
        int64_t era = floor_div(z, 146097);
        int64_t doe = z - era * 146097;
        int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        int64_t mp = (5 * doy + 2) / 153;
        out->day = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
        out->month = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
        out->year = yoe + era * 400 + (out->month <= 2);
}

unsigned rtc_days_in_month(int64_t y, unsigned m) {
        static const unsigned days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        if (m < 1 || m > 12)
                return 31;
        bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        return days[m - 1] + (m == 2 && leap);
}
