"""Builds the Chinese-variant test set (tests/fixtures/chinese_variants.csv).

Realistic people and companies from Faker's zh_CN and zh_TW providers; each person gets
a canonical record and variants as CRM users really write them: honorific or role
instead of the given name, traditional script, pinyin, phone formats, company legal
suffixes and region markers. Columns: record_id, contact_id, account_id, name, company,
phone, email. Records sharing contact_id are one person; sharing account_id, one
company. Generated once (seeded) and committed, so tests need no network:

    python3 -m venv services/dedup/bench/.venv
    services/dedup/bench/.venv/bin/pip install 'faker==40.*'
    services/dedup/bench/.venv/bin/python services/dedup/bench/chinese_variants.py
"""

import csv
import pathlib
import random

from faker import Faker

SEED = 20261123
PEOPLE = 600
OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "chinese_variants.csv"

# A handful of traditional forms for the characters Faker uses most in names and brands.
TRADITIONAL = str.maketrans(
    "伟刚丽华国庆龙凤军杰涛红兰云飞鹏东晓宁亮静辉强锋峰贤义礼乐尔长张陈刘杨黄赵吴郑孙马朱胡郭罗梁宋谢韩冯邓许萧叶苏吕卢蒋蔡贾丁魏薛阎钟汪谭陆姜戴范严龚顾孟万钱汤尹黎易乔赖龙邹熊潘于董袁程邱骆"
    "为科技网络信息发展贸易传媒电子软件实业达兴恒荣鑫盛泰丰昌业凯顺广联银众创诚诺",
    "偉剛麗華國慶龍鳳軍傑濤紅蘭雲飛鵬東曉寧亮靜輝強鋒峰賢義禮樂爾長張陳劉楊黃趙吳鄭孫馬朱胡郭羅梁宋謝韓馮鄧許蕭葉蘇呂盧蔣蔡賈丁魏薛閻鍾汪譚陸薑戴範嚴龔顧孟萬錢湯尹黎易喬賴龍鄒熊潘於董袁程邱駱"
    "為科技網絡信息發展貿易傳媒電子軟件實業達興恆榮鑫盛泰豐昌業凱順廣聯銀眾創誠諾",
)
HONORIFICS = ["先生", "女士", "总", "經理", "总监", "老师", "生"]
INDUSTRIES = ["科技", "网络", "信息", "贸易", "传媒", "电子", "软件", "实业"]
LEGAL = ["有限公司", "有限责任公司", "股份有限公司", "集团"]
REGIONS = ["北京", "上海", "深圳", "广州", "杭州", "成都", "台北"]


def main():
    rng = random.Random(SEED)
    zh = Faker(["zh_CN", "zh_TW"])
    zh.seed_instance(SEED)
    brands = []
    seen = set()
    while len(brands) < PEOPLE // 4:
        brand = zh["zh_CN"].company_prefix() + rng.choice(["", "", zh["zh_CN"].company_prefix()])
        if brand not in seen:
            seen.add(brand)
            brands.append(brand)
    rows = []
    record = 0
    for person in range(PEOPLE):
        locale = zh["zh_CN"] if person % 3 else zh["zh_TW"]
        surname = locale.last_name()
        given = locale.first_name()
        while len(given) > 2:
            given = locale.first_name()
        name = surname + given
        brand_index = rng.randrange(len(brands))
        brand = brands[brand_index]
        industry = rng.choice(INDUSTRIES)
        region = rng.choice(REGIONS)
        mobile = "1" + rng.choice("3578") + "".join(rng.choice("0123456789") for _ in range(9))
        email = f"user{person}.{rng.randrange(10**6)}@{rng.choice(['qq.com', '163.com', 'example.cn'])}"
        company = region + brand + industry + rng.choice(LEGAL)

        def add(n, c, p, e):
            nonlocal record
            record += 1
            rows.append([f"r{record}", f"p{person}", f"a{brand_index}", n, c, p, e])

        add(name, company, mobile, email)
        variants = [
            # honorific or role with the surname, phone written the international way
            (surname + rng.choice(HONORIFICS), brand + industry + f"({region})" + rng.choice(LEGAL),
             f"+86 {mobile[:3]}-{mobile[3:7]}-{mobile[7:]}", ""),
            # traditional script, brand only, full-width phone, e-mail in capitals
            (name.translate(TRADITIONAL), brand.translate(TRADITIONAL) + industry.translate(TRADITIONAL),
             "".join(chr(ord(d) + 0xFEE0) for d in mobile), email.upper()),
            # 0086 prefix with spaces, company with a different suffix
            (name, brand + rng.choice(LEGAL), f"0086 {mobile[:3]} {mobile[3:7]} {mobile[7:]}", ""),
            # no phone, e-mail only, traditional company with region marker
            (name, region + brand.translate(TRADITIONAL), "", f" {email} "),
            # no phone and no e-mail: only the name (traditional) and company can match
            (name.translate(TRADITIONAL), brand.translate(TRADITIONAL) + rng.choice(LEGAL), "", ""),
        ]
        for variant in rng.sample(variants, rng.randint(1, 3)):
            add(*variant)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["record_id", "contact_id", "account_id", "name", "company", "phone", "email"])
        writer.writerows(rows)
    print(f"{len(rows)} records of {PEOPLE} people at {len(brands)} companies -> {OUT}")


if __name__ == "__main__":
    main()
